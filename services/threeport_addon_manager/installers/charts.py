"""Fetching pinned charts (HTTP repository or OCI registry) once per process, checked by digest.

A chart is identified by (repository, name, version); the archive Helm downloads is kept in a
per-process cache directory, so an installation's periodic reconcile does not download again.
A digest in the catalog entry is compared with the archive's (``sha256:<hex>``, what repository
indexes carry): a chart republished under the same version is refused, not installed.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path

from threeport.addons.v1alpha1 import addon_pb2
from threeport_runtime.helm import ChartError, chart_digest, pull_chart

__all__ = ["ChartCache", "ChartError", "describe_chart"]


def describe_chart(chart: addon_pb2.HelmChart) -> str:
    where = chart.repository if chart.repository.startswith("oci://") else f"{chart.repository} {chart.name}"
    return f"chart {where} {chart.version}".strip()


class ChartCache:
    def __init__(self, directory: Path | None = None):
        self._directory = directory or Path(tempfile.mkdtemp(prefix="threeport-charts-"))
        self._locks: dict[str, asyncio.Lock] = {}

    async def fetch(self, chart: addon_pb2.HelmChart) -> Path:
        """The chart's archive on disk, downloaded on first use."""
        key = hashlib.sha256(f"{chart.repository}\0{chart.name}\0{chart.version}".encode()).hexdigest()[:16]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            target = self._directory / key
            archives = sorted(target.glob("*.tgz")) if target.exists() else []
            if not archives:
                archives = [await asyncio.to_thread(self._pull, chart, target)]
            archive = archives[0]
        if chart.digest:
            found = await asyncio.to_thread(chart_digest, archive)
            if found != chart.digest:
                raise ChartError(f"{describe_chart(chart)}: the archive's digest is {found}, not {chart.digest}")
        return archive

    @staticmethod
    def _pull(chart: addon_pb2.HelmChart, target: Path) -> Path:
        return pull_chart(chart.repository, chart.name, chart.version, target, plain_http=chart.plain_http)
