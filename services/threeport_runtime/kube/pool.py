"""One client per cluster, rebuilt when its credentials change or stop working.

A client keeps its HTTP connections and discovery cache, so reconciles and probes of a cluster
share them instead of building a TLS context and session per call. Credentials come from a
``CredentialSource`` (delivery asks the cluster-manager) and are read again after ``ttl``
seconds, or handed in by a caller that has just read them (the cluster-manager's own probe; a
pool without a source keeps the last client handed in until the next one).
A client that was refused as unauthorized or could not reach its server is rebuilt from fresh
credentials on next use: rotated tokens and moved clusters need no restart. A replaced client is
closed after ``retire_after`` seconds, so that calls still running on it may finish.

``cache`` gives the watch-fed ``ClusterCache`` of a cluster for a kind-set and label selector,
started on first use (every kind of the set, or those the caller names: it starts the others
when it needs them); forgetting the cluster or closing the pool stops it. A cluster the source
says does not exist (NotFound: it was deleted) is forgotten, so its caches stop by themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from threeport.sdk import NotFoundError
from threeport_runtime.kube.cache import ClusterCache, Handler, Kind
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.connection import Connection

CredentialSource = Callable[[str], Awaitable[Connection]]


@dataclass
class _Entry:
    client: KubeClient
    fingerprint: bytes
    checked: float


class KubePool:
    def __init__(
        self,
        source: CredentialSource | None = None,
        *,
        ttl: float = 60.0,
        call_timeout: float = 10.0,
        retire_after: float = 30.0,
    ):
        self._source = source
        self._ttl = ttl
        self._call_timeout = call_timeout
        self._retire_after = retire_after
        self._entries: dict[str, _Entry] = {}
        self._retiring: dict[asyncio.Task[None], KubeClient] = {}
        self._caches: dict[tuple[str, tuple[Kind, ...], str], ClusterCache] = {}

    async def client(self, cluster: str, connection: Connection | None = None) -> KubeClient:
        """The client of ``cluster``: from ``connection`` when given, else from the source."""
        entry = self._entries.get(cluster)
        fresh = entry is not None and not entry.client.stale and time.monotonic() - entry.checked < self._ttl
        if entry is not None and fresh and connection is None:
            return entry.client
        if connection is None:
            if self._source is None:
                if entry is not None:
                    # Only callers handing in credentials refresh them (the cluster-manager's
                    # probe): its caches keep the last client until then.
                    return entry.client
                raise ValueError(f"no connection given for cluster {cluster} and the pool has no credential source")
            try:
                connection = await self._source(cluster)
            except NotFoundError:
                self.forget(cluster)  # the cluster no longer exists: stop watching it
                raise
        fingerprint = connection.fingerprint()
        entry = self._entries.get(cluster)  # Re-read: another caller may have replaced it meanwhile.
        if entry is not None and entry.fingerprint == fingerprint and not entry.client.stale:
            entry.checked = time.monotonic()
            return entry.client
        client = KubeClient(connection, call_timeout=self._call_timeout)
        self._entries[cluster] = _Entry(client, fingerprint, time.monotonic())
        if entry is not None:
            self._retire(entry.client)
        return client

    def cache(
        self, cluster: str, kinds: Sequence[Kind], selector: str, handler: Handler | None = None,
        *, start: Sequence[Kind] | None = None, index: str = "",
    ) -> ClusterCache:
        """The cluster's cache of ``kinds`` matching ``selector`` (one per cluster and kind-set),
        watching ``start`` (every kind if None) from now if it was not; ``handler`` hears of
        every change it sees; ``index``: a label key its lists by that label look up directly."""
        key = (cluster, tuple(dict.fromkeys(kinds)), selector)
        cache = self._caches.get(key)
        if cache is None:
            cache = self._caches[key] = ClusterCache(cluster, lambda: self.client(cluster), key[1], selector,
                                                     index=index)
        if handler is not None:
            cache.add_handler(handler)
        cache.start(start)
        return cache

    def caches(self, cluster: str) -> list[ClusterCache]:
        """The running caches of a cluster."""
        return [cache for (name, _, _), cache in self._caches.items() if name == cluster]

    def forget(self, cluster: str) -> None:
        """Drops the cluster's client and stops its caches (e.g. the cluster was deleted)."""
        for key in [key for key in self._caches if key[0] == cluster]:
            self._caches.pop(key).cancel()
        entry = self._entries.pop(cluster, None)
        if entry is not None:
            self._retire(entry.client)

    def __len__(self) -> int:
        return len(self._entries)

    def _retire(self, client: KubeClient) -> None:
        async def close_later() -> None:
            await asyncio.sleep(self._retire_after)
            await client.close()

        task = asyncio.create_task(close_later(), name=f"retire kube client {client.server}")
        self._retiring[task] = client
        task.add_done_callback(lambda done: self._retiring.pop(done, None))

    async def close(self) -> None:
        caches, self._caches = list(self._caches.values()), {}
        for cache in caches:
            await cache.stop()
        for task, client in list(self._retiring.items()):
            task.cancel()
            await client.close()
        for entry in self._entries.values():
            await entry.client.close()
        self._entries.clear()
