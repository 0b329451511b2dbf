"""Fetching the catalog's pinned charts through the runtime's ``helm.ChartCache`` (once per
process, checked against the catalog entry's digest: a chart republished under the same version
is refused, not installed)."""

from __future__ import annotations

from pathlib import Path

from threeport.addons.v1alpha1 import addon_pb2
from threeport_runtime import helm
from threeport_runtime.helm import ChartError

__all__ = ["ChartCache", "ChartError", "describe_chart"]


def describe_chart(chart: addon_pb2.HelmChart) -> str:
    return helm.describe_source(chart.repository, chart.name, chart.version)


class ChartCache:
    """The runtime's chart cache, fed with catalog chart entries."""

    def __init__(self, directory: Path | None = None):
        self._cache = helm.ChartCache(directory)

    async def fetch(self, chart: addon_pb2.HelmChart) -> Path:
        """The chart's archive on disk, downloaded on first use."""
        archive, _ = await self._cache.fetch(
            chart.repository, chart.name, chart.version, chart.digest, plain_http=chart.plain_http
        )
        return archive
