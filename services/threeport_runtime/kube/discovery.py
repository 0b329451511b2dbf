"""Kind → REST resource, learnt from the API server's discovery documents.

No hand-kept table: ``/api/v1`` and ``/apis/{group}/{version}`` list every resource the server
serves, custom resources included. A group-version is fetched once per connection and cached;
a kind missing from the cache is looked up again once (a CRD may have been established since),
as client-go's deferred discovery mapper does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from threeport_runtime.kube.errors import NotFound


@dataclass(frozen=True)
class Resource:
    """How a kind is served: its group-version, plural name and scope."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def collection_path(self, namespace: str = "") -> str:
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def object_path(self, name: str, namespace: str = "") -> str:
        return f"{self.collection_path(namespace)}/{name}"


Fetch = Callable[[str], Awaitable[Any]]


def group_version_path(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def resources_of(api_version: str, document: Any) -> dict[str, Resource]:
    """The kinds of an ``APIResourceList`` (subresources such as ``deployments/status`` left out)."""
    found: dict[str, Resource] = {}
    for entry in (document or {}).get("resources") or []:
        name = str(entry.get("name", ""))
        if not name or "/" in name:
            continue
        kind = str(entry.get("kind", ""))
        found[kind] = Resource(api_version, kind, name, bool(entry.get("namespaced")))
    return found


class Discovery:
    """The discovery cache of one connection."""

    def __init__(self, fetch: Fetch):
        self._fetch = fetch
        self._kinds: dict[str, dict[str, Resource]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def resource(self, api_version: str, kind: str) -> Resource:
        """How ``kind`` of ``api_version`` is served; NotFound if the server does not serve it."""
        cached = self._kinds.get(api_version)
        if cached is not None and kind in cached:
            return cached[kind]
        lock = self._locks.setdefault(api_version, asyncio.Lock())
        async with lock:
            # Another caller may have refreshed it while we waited.
            current = self._kinds.get(api_version)
            if current is None or (current is cached and kind not in current):
                current = await self._load(api_version)
        if kind not in current:
            raise NotFound(f"the server does not serve kind {kind} in {api_version}")
        return current[kind]

    def forget(self) -> None:
        """Drops everything learnt (e.g. after a CRD was removed)."""
        self._kinds.clear()

    async def _load(self, api_version: str) -> dict[str, Resource]:
        try:
            document = await self._fetch(group_version_path(api_version))
        except NotFound:
            raise NotFound(f"the server does not serve API version {api_version}") from None
        kinds = resources_of(api_version, document)
        self._kinds[api_version] = kinds
        return kinds
