"""Keeps one client per cluster, built from ClusterCredentials the cluster-manager hands out.

Credentials are re-read after ``ttl`` seconds and whenever a call could not authenticate or
reach the server, so rotated tokens and moved clusters are picked up without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from threeport.clusters.v1alpha1 import cluster_credentials_pb2
from threeport_workload_delivery.k8s.client import KubeClient

CredentialSource = Callable[[str], Awaitable[cluster_credentials_pb2.ClusterCredentials]]


class ClientPool:
    def __init__(self, credentials: CredentialSource, *, ttl: float = 60.0, call_timeout: float = 10.0):
        self._credentials = credentials
        self._ttl = ttl
        self._call_timeout = call_timeout
        self._clients: dict[str, tuple[float, KubeClient]] = {}
        self._fingerprints: dict[str, bytes] = {}

    async def client(self, cluster: str) -> KubeClient:
        cached = self._clients.get(cluster)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        credentials = await self._credentials(cluster)
        fingerprint = credentials.SerializeToString(deterministic=True)
        if cached is not None and self._fingerprints.get(cluster) == fingerprint:
            # Unchanged: keep the connection (another reconcile may be using it right now).
            self._clients[cluster] = (time.monotonic(), cached[1])
            return cached[1]
        client = KubeClient.connect(credentials, self._call_timeout)
        self._clients[cluster] = (time.monotonic(), client)
        self._fingerprints[cluster] = fingerprint
        return client

    async def forget(self, cluster: str) -> None:
        # Not closed here: a concurrent reconcile may still hold it; its session is dropped
        # with it once unused.
        self._clients.pop(cluster, None)
        self._fingerprints.pop(cluster, None)

    async def close(self) -> None:
        for _, client in self._clients.values():
            await client.close()
        self._clients.clear()
