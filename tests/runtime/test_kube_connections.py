"""How many connections a Kubernetes client holds to one API server (``kube.transport``), counted
from the kernel's table of TCP connections: calls share at most ``CALL_CONNECTIONS``, however
many are made at once, and watches hold their own, so calls still run while more watches are
open than calls may use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from threeport_kubesim.control import ClusterInfo
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.transport import CALL_CONNECTIONS
from threeport_runtime.testing import wait_until

from .test_kube import connection_to

ESTABLISHED = "01"


def client_connections(port: int) -> int:
    """Established TCP connections whose far end is ``port`` on this host (the clients' ends)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == ESTABLISHED:
                count += 1
    return count


@contextlib.asynccontextmanager
async def watching(client: KubeClient, count: int) -> AsyncIterator[None]:
    """``count`` watches of ConfigMaps running until the block ends."""

    async def watch() -> None:
        query = [("watch", "true"), ("timeoutSeconds", "120"), ("allowWatchBookmarks", "true")]
        async for _ in client.watch("/api/v1/namespaces/default/configmaps", what="watching", query=query):
            pass

    tasks = [asyncio.create_task(watch()) for _ in range(count)]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def connections_reach(port: int, at_least: int) -> bool:
    return client_connections(port) >= at_least


async def test_a_burst_of_calls_shares_a_bounded_set_of_connections(cluster: ClusterInfo) -> None:
    client = KubeClient(connection_to(cluster))
    try:
        before = client_connections(cluster.port)
        listed = await asyncio.gather(*(client.list("v1", "ConfigMap", namespace="default") for _ in range(40)))
        assert all(isinstance(items, list) for items in listed)
        # Idle connections stay open for reuse (keep-alive): what is left is what the burst used.
        assert 1 <= client_connections(cluster.port) - before <= CALL_CONNECTIONS
    finally:
        await client.close()


async def test_calls_run_while_more_watches_are_open_than_calls_may_use(cluster: ClusterInfo) -> None:
    client = KubeClient(connection_to(cluster))
    watches = CALL_CONNECTIONS + 2
    try:
        before = client_connections(cluster.port)
        async with watching(client, watches):
            await wait_until(
                lambda: connections_reach(cluster.port, before + watches),
                within=10,
                what=f"{watches} watch connections",
            )
            async with asyncio.timeout(5):
                items = await client.list("v1", "ConfigMap", namespace="default")
            assert isinstance(items, list)
    finally:
        await client.close()
