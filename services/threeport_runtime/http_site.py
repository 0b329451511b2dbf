"""Serving an aiohttp application on ``host:port`` inside a service's event loop.

Used by the metrics port and the gateway's HTTP/JSON listener. Port 0 picks a free port, which
is returned, so tests can run many processes' listeners side by side.

Stopping gives requests in flight ``STOP_GRACE`` seconds, then cancels what is still open:
aiohttp's default waits 60 s, and an HTTP watch (a stream that never ends by itself) held every
stop of the gateway for that long.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiohttp import web

STOP_GRACE = 3.0


async def serve(app: web.Application, listen_address: str, ssl_context: ssl.SSLContext | None = None) -> tuple[
    web.AppRunner, int
]:
    """Starts serving ``app``; returns the runner (``await runner.cleanup()`` stops it) and the port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=STOP_GRACE)
    await runner.setup()
    host, _, port = listen_address.rpartition(":")
    site = web.TCPSite(runner, host.strip("[]") or "0.0.0.0", int(port), ssl_context=ssl_context)
    await site.start()
    server: Any = site._server  # aiohttp exposes the bound socket only here
    return runner, int(server.sockets[0].getsockname()[1])
