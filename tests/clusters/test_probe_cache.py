"""The probe reads nodes and pods from a watch-fed cache (issue 14): once the cluster's cache is
synced a probe lists neither, yet reports what a listing probe reports; a pod added or removed
shows in the next probe; deleting the cluster stops its watches."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from threeport_cluster_manager.probe import PROBED_KINDS, ProbeResult, probe
from threeport_kubesim.control import ClusterInfo
from threeport_runtime.kube.cache import ClusterCache
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.pool import KubePool
from threeport_runtime.testing import wait_until

from ..runtime.test_kube import connection_to
from .conftest import ClusterManager, Kube
from .helpers import WITHIN, cluster_when, is_true
from .test_health import create_pod
from .test_placement_accounting import deployment_pod

COLLECTIONS = ("/api/v1/pods", "/api/v1/nodes")


class Requests:
    """The REST calls (not watches) made to one server by every KubeClient of this process."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.seen: list[tuple[str, str]] = []

    def lists(self) -> list[str]:
        return [path for method, path in self.seen if method == "GET" and path in COLLECTIONS]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Requests]]:
    by_server: dict[str, Requests] = {}
    original = KubeClient.request

    async def request(self: KubeClient, method: str, path: str, **kwargs: Any) -> Any:
        if self.server in by_server:
            by_server[self.server].seen.append((method, path))
        return await original(self, method, path, **kwargs)

    monkeypatch.setattr(KubeClient, "request", request)
    yield by_server


@pytest.fixture
async def tenant(kube: Kube) -> AsyncIterator[tuple[ClusterInfo, KubeClient]]:
    info = kube.cluster("probed", nodes=2)
    client = KubeClient(connection_to(info), call_timeout=5.0)
    try:
        yield info, client
    finally:
        await client.close()


def pool_of(manager: ClusterManager) -> KubePool:
    (pool,) = manager.service.runtime.kube_pools
    return pool


async def synced_cache(manager: ClusterManager, cluster: str) -> ClusterCache:
    async def ready() -> ClusterCache | None:
        caches = pool_of(manager).caches(cluster)
        return caches[0] if caches and caches[0].synced else None

    return await wait_until(ready, within=WITHIN, what="the probe's cache to sync")


async def probes(manager: ClusterManager, name: str, count: int) -> None:
    """Waits until ``count`` more probes have written their status."""
    for _ in range(count):
        before = (await manager.client.cluster.get_cluster(name=name)).status.last_probe_time.ToDatetime()
        await cluster_when(
            manager.client, name, lambda c, t=before: c.status.last_probe_time.ToDatetime() > t, "another probe"
        )


def without_latency(result: ProbeResult) -> ProbeResult:
    return dataclasses.replace(result, api_latency_ms=0)


async def finished(info: ClusterInfo, client: KubeClient, name: str) -> None:
    async def done() -> bool:
        pod = await client.get({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}})
        return (pod or {}).get("status", {}).get("phase") == "Succeeded"

    await wait_until(done, within=WITHIN, what=f"pod {name} to run to completion")


async def test_a_synced_probe_lists_nothing_and_counts_what_a_listing_probe_counts(
    manager: ClusterManager, kube: Kube, tenant: tuple[ClusterInfo, KubeClient], recorded: dict[str, Requests]
) -> None:
    info, client = tenant
    create_pod(info, deployment_pod("web", "300m"))
    create_pod(info, deployment_pod("api", "200m"))
    tenant_pod = deployment_pod("tenant", "50m")
    tenant_pod["metadata"]["labels"] = {"team": "blue"}  # type: ignore[index]
    create_pod(info, tenant_pod)
    # A pod that ran to completion holds nothing: the cache keeps it, the probe leaves it out.
    done = deployment_pod("migrate", "700m")
    done["spec"] = {**done["spec"], "restartPolicy": "Never"}  # type: ignore[dict-item]
    create_pod(info, done)
    await finished(info, client, "migrate")

    cluster = await manager.client.cluster.attach_cluster(cluster_id="probed", kubeconfig=kube.kubeconfig(info))
    await cluster_when(manager.client, cluster.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")
    cache = await synced_cache(manager, cluster.name)
    assert cache.kinds == PROBED_KINDS and cache.selector == ""
    requests = recorded[info.server] = Requests(info.server)
    await probes(manager, cluster.name, 3)
    assert requests.lists() == [], requests.seen
    assert ("GET", "/version") in requests.seen and ("GET", "/api") in requests.seen

    seen = (await manager.client.cluster.get_cluster(name=cluster.name)).status
    listed = await probe(client)  # no cache: lists, as before
    assert sorted(requests.lists()) == sorted(COLLECTIONS)  # (the counter sees a listing)
    from_cache = await probe(client, cache)
    assert without_latency(from_cache) == without_latency(listed)
    assert (listed.node_count, listed.ready_node_count) == (2, 2)
    assert listed.requested_cpu_millis == 550 and listed.deployments_requested_cpu_millis == 500
    assert listed.deployments_running == 2
    assert (seen.requested_cpu_millis, seen.deployments_requested_cpu_millis, seen.deployments_running) == (
        550, 500, 2)
    assert (seen.allocatable_cpu_millis, seen.node_count) == (listed.allocatable_cpu_millis, 2)
    # What the cache keeps of a pod is what the probe reads: its containers' requests.
    assert cache.get("v1", "Pod", "default", "migrate") is not None
    kept = cache.get("v1", "Pod", "default", "web") or {}
    assert kept["spec"] == {"containers": [{"name": "app", "resources": {"requests": {"cpu": "300m"}}}]}


async def test_pods_added_and_removed_show_in_the_next_probe_and_deleting_the_cluster_stops_watches(
    manager: ClusterManager, kube: Kube, tenant: tuple[ClusterInfo, KubeClient], recorded: dict[str, Requests]
) -> None:
    info, client = tenant
    cluster = await manager.client.cluster.attach_cluster(cluster_id="probed", kubeconfig=kube.kubeconfig(info))
    await cluster_when(manager.client, cluster.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")
    cache = await synced_cache(manager, cluster.name)
    requests = recorded[info.server] = Requests(info.server)

    create_pod(info, deployment_pod("web", "250m"))
    await cluster_when(
        manager.client, cluster.name,
        lambda c: (c.status.requested_cpu_millis, c.status.deployments_running) == (250, 1), "the new pod counted",
    )
    assert await client.delete({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}})
    await cluster_when(
        manager.client, cluster.name,
        lambda c: (c.status.requested_cpu_millis, c.status.deployments_running) == (0, 0), "the pod gone",
    )
    assert requests.lists() == [], requests.seen

    tasks = cache.tasks
    assert tasks and not any(task.done() for task in tasks)
    await manager.client.cluster.delete_cluster(name=cluster.name)

    async def stopped() -> bool:
        return not pool_of(manager).caches(cluster.name) and all(task.done() for task in tasks)

    await wait_until(stopped, within=WITHIN, what="the deleted cluster's watches to stop")
    await asyncio.sleep(0)
    assert not cache.synced


async def test_a_steady_clusters_probe_reads_no_pod_from_the_cache_and_a_changed_pod_is_summed_again(
    manager: ClusterManager, kube: Kube, tenant: tuple[ClusterInfo, KubeClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sums over a synced cache are kept with its node and pod revisions: a probe of a
    cluster where nothing changed unpacks no pod (summing every pod of every cluster each probe
    grew with the deployments), and a pod added, changed or removed is summed at the next one,
    from what each pod's change said when the cache heard of it (no pod unpacked either)."""
    info, client = tenant
    create_pod(info, deployment_pod("web", "250m"))
    cluster = await manager.client.cluster.attach_cluster(cluster_id="probed", kubeconfig=kube.kubeconfig(info))
    await cluster_when(manager.client, cluster.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")
    cache = await synced_cache(manager, cluster.name)
    listed: list[str] = []
    original = ClusterCache.list

    def counting(self: ClusterCache, api_version: str, kind: str, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        if self is cache:
            listed.append(kind)
        return original(self, api_version, kind, *args, **kwargs)

    monkeypatch.setattr(ClusterCache, "list", counting)
    first = await probe(client, cache)
    listed.clear()
    for _ in range(3):
        assert without_latency(await probe(client, cache)) == without_latency(first)
    assert listed == [], "a probe of an unchanged cluster read the cache's objects again"

    create_pod(info, deployment_pod("api", "100m"))

    async def counted() -> ProbeResult | None:
        result = await probe(client, cache)
        return result if result.requested_cpu_millis == 350 else None

    changed = await wait_until(counted, within=WITHIN, what="the new pod to be summed")
    # Summed again without unpacking a pod: each pod's usage was taken as its change arrived.
    assert changed.deployments_running == 2 and "Pod" not in listed and "Node" in listed
    assert await client.delete({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}})

    async def removed() -> bool:
        return (await probe(client, cache)).requested_cpu_millis == 100

    await wait_until(removed, within=WITHIN, what="the removed pod to leave the sums")

    # A pod that runs to completion stops holding its requests when its phase says so.
    done = deployment_pod("migrate", "700m")
    done["spec"] = {**done["spec"], "restartPolicy": "Never"}  # type: ignore[dict-item]
    create_pod(info, done)
    await finished(info, client, "migrate")
    await wait_until(removed, within=WITHIN, what="the finished pod to leave the sums")
