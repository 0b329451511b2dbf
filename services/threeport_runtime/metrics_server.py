"""The metrics port of a service (``THREEPORT_METRICS_LISTEN_ADDRESS``): ``GET /metrics`` in
Prometheus text format.

A scrape first refreshes the values that cost a query (the bus backlog), then renders every
OpenTelemetry instrument of the process (``threeport_runtime.prometheus``). The port serves
nothing else and needs no credential; keep it inside the cluster (the Helm chart's
NetworkPolicy admits only the monitoring namespace to it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from threeport_runtime import http_site, prometheus

log = logging.getLogger(__name__)

Refresh = Callable[[], Awaitable[None]]
# A scrape must answer even when Redis or Postgres is slow: stale backlog values beat none.
REFRESH_TIMEOUT_SECONDS = 5.0


class MetricsServer:
    def __init__(self, refreshers: Sequence[Refresh] = ()):
        self._refreshers = list(refreshers)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, listen_address: str) -> int:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner, self.port = await http_site.serve(app, listen_address)
        log.info("metrics served", extra={"port": self.port, "path": "/metrics"})
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, _request: web.Request) -> web.Response:
        for refresh in self._refreshers:
            try:
                await asyncio.wait_for(refresh(), REFRESH_TIMEOUT_SECONDS)
            except Exception:
                log.warning("could not refresh a metric before the scrape", exc_info=True)
        body = await asyncio.to_thread(prometheus.render)
        return web.Response(body=body, headers={"Content-Type": prometheus.CONTENT_TYPE})
