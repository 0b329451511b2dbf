"""The watch-fed cluster cache (``threeport_runtime.kube.cache``) against the emulator: it lists,
then follows a watch; a dropped connection, a 410 Gone and refused lists are survived by listing
again, and what changed meanwhile reaches the handlers; forgetting the cluster stops it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from threeport.sdk import NotFoundError
from threeport_kubesim.control import ClusterInfo
from threeport_kubesim.testing import EmulatorHandle
from threeport_runtime.kube.cache import ClusterCache, slim
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.connection import Connection
from threeport_runtime.kube.packing import RESEED_AT, KindPacker
from threeport_runtime.kube.pool import KubePool
from threeport_runtime.testing import wait_until

from .test_kube import config_map, connection_to

KINDS = [("v1", "ConfigMap"), ("apps/v1", "Deployment")]
SELECTOR = "team=blue"
WITHIN = 60.0


@pytest.fixture
async def pool(cluster: ClusterInfo) -> AsyncIterator[KubePool]:
    async def source(_: str) -> Any:
        return connection_to(cluster)

    made = KubePool(source, call_timeout=5.0)
    yield made
    await made.close()


class Seen:
    """What a cache handler was told, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, event: str, obj: dict[str, Any]) -> None:
        self.events.append((event, obj["metadata"]["name"]))

    async def saw(self, event: str, name: str) -> None:
        await wait_until(lambda: _now((event, name) in self.events), within=WITHIN, what=f"{event} {name}")


async def _now(value: bool) -> bool:
    return value


async def synced(cache: ClusterCache) -> None:
    async with asyncio.timeout(WITHIN):
        await cache.wait_synced()


async def test_lists_then_follows_the_watch(pool: KubePool, cluster: ClusterInfo) -> None:
    client = await pool.client(cluster.name)
    await client.apply(config_map("before", team="blue"))
    await client.apply(config_map("someone-elses", team="red"))
    seen = Seen()
    cache = pool.cache(cluster.name, KINDS, SELECTOR, seen)
    await synced(cache)
    assert ("ADDED", "before") in seen.events
    assert [o["metadata"]["name"] for o in cache.list("v1", "ConfigMap")] == ["before"]
    kept = cache.get("v1", "ConfigMap", "default", "before")
    assert kept is not None and kept["kind"] == "ConfigMap" and "managedFields" not in kept["metadata"]

    # Readers get their own copy: what one changes, the next does not see.
    kept["data"] = {"scribbled": "by a reader"}
    kept["metadata"]["labels"]["team"] = "red"
    again = cache.get("v1", "ConfigMap", "default", "before") or {}
    assert "scribbled" not in (again.get("data") or {}) and again["metadata"]["labels"]["team"] == "blue"
    assert [o["metadata"]["name"] for o in cache.list("v1", "ConfigMap", {"team": "blue"})] == ["before"]

    await client.apply(config_map("after", team="blue"))
    await seen.saw("ADDED", "after")
    await client.apply({**config_map("before", team="blue"), "data": {"greeting": "hi"}})
    await seen.saw("MODIFIED", "before")
    assert (cache.get("v1", "ConfigMap", "default", "before") or {})["data"] == {"greeting": "hi"}
    assert await client.delete(config_map("after"))
    await seen.saw("DELETED", "after")
    assert cache.get("v1", "ConfigMap", "default", "after") is None
    assert cache.list("v1", "ConfigMap", {"team": "blue"}, "default")[0]["metadata"]["name"] == "before"
    assert same_pool_cache(pool, cluster, cache)


async def test_an_indexed_label_lists_what_a_scan_lists_through_every_change(cluster: ClusterInfo) -> None:
    """A list by the indexed label gives what reading every object gives: after the first
    list, an object added, one whose indexed label changed, one deleted, and another list."""
    async def source(_: str) -> Any:
        return connection_to(cluster)

    indexed_pool, plain_pool = KubePool(source, call_timeout=5.0), KubePool(source, call_timeout=5.0)
    try:
        client = await indexed_pool.client(cluster.name)
        for name, owner in (("a1", "a"), ("a2", "a"), ("b1", "b")):
            await client.apply(config_map(name, team="blue", owner=owner))
        await client.apply(config_map("a-red", team="red", owner="a"))  # outside the selector
        indexed = indexed_pool.cache(cluster.name, KINDS, SELECTOR, index="owner")
        plain = plain_pool.cache(cluster.name, KINDS, SELECTOR)
        await synced(indexed)
        await synced(plain)

        def listed(cache: ClusterCache, **labels: str) -> list[str]:
            return sorted(o["metadata"]["name"] for o in cache.list("v1", "ConfigMap", labels))

        async def agree(**expected: list[str]) -> bool:
            return all(listed(cache, team="blue", owner=owner) == names
                       for owner, names in expected.items() for cache in (indexed, plain))

        await wait_until(lambda: agree(a=["a1", "a2"], b=["b1"], c=[]), within=WITHIN, what="the first lists")
        await client.apply(config_map("a3", team="blue", owner="a"))
        await client.apply(config_map("a2", team="blue", owner="b"))  # moves from a to b
        assert await client.delete(config_map("b1"))
        await wait_until(lambda: agree(a=["a1", "a3"], b=["a2"]), within=WITHIN, what="the changes")
        assert listed(indexed, team="blue") == ["a1", "a2", "a3"]  # not by the indexed label: a scan
        assert listed(indexed, team="blue", owner="a") == listed(indexed, owner="a", team="blue")
    finally:
        await indexed_pool.close()
        await plain_pool.close()


def same_pool_cache(pool: KubePool, cluster: ClusterInfo, cache: ClusterCache) -> bool:
    """One cache per cluster and kind-set: asking again gives the running one."""
    return pool.cache(cluster.name, KINDS, SELECTOR) is cache and pool.caches(cluster.name) == [cache]


async def test_changes_missed_while_the_watch_was_down_arrive_when_it_lists_again(
    pool: KubePool, cluster: ClusterInfo, emulator: EmulatorHandle
) -> None:
    client = await pool.client(cluster.name)
    for name in ("kept", "edited", "removed"):
        await client.apply(config_map(name, team="blue"))
    seen = Seen()
    cache = pool.cache(cluster.name, KINDS, SELECTOR, seen)
    await synced(cache)

    # The connection drops, and the server refuses to list or watch ConfigMaps for a while.
    for verb in ("list", "watch"):
        emulator.control.fail_requests(cluster.name, 503, count=10**6, verb=verb, resource="configmaps")
    emulator.control.set_unreachable(cluster.name, True)
    emulator.control.set_unreachable(cluster.name, False)
    await wait_until(lambda: _now(not cache.synced), within=WITHIN, what="the cache to notice the watch is down")
    writer = KubeClient(connection_to(cluster), call_timeout=5.0)
    try:
        await writer.apply({**config_map("edited", team="blue"), "data": {"greeting": "changed"}})
        assert await writer.delete(config_map("removed"))
        await writer.apply(config_map("new", team="blue"))
    finally:
        await writer.close()
    assert ("DELETED", "removed") not in seen.events  # no watch heard of it

    emulator.control.clear_faults(cluster.name)
    await synced(cache)
    for event, name in (("MODIFIED", "edited"), ("DELETED", "removed"), ("ADDED", "new")):
        assert (event, name) in seen.events
    assert ("MODIFIED", "kept") not in seen.events  # unchanged: nothing to tell
    assert sorted(o["metadata"]["name"] for o in cache.list("v1", "ConfigMap")) == ["edited", "kept", "new"]
    assert (cache.get("v1", "ConfigMap", "default", "edited") or {})["data"] == {"greeting": "changed"}
    # ...and the watch follows again.
    await (await pool.client(cluster.name)).apply(config_map("later", team="blue"))
    await seen.saw("ADDED", "later")


async def test_a_410_gone_lists_again(pool: KubePool, cluster: ClusterInfo, emulator: EmulatorHandle) -> None:
    # Every watch of ConfigMaps is refused as expired a few times: each time the cache lists again.
    emulator.control.fail_requests(cluster.name, 410, count=3, verb="watch", resource="configmaps")
    client = await pool.client(cluster.name)
    await client.apply(config_map("one", team="blue"))
    seen = Seen()
    cache = pool.cache(cluster.name, KINDS, SELECTOR, seen)

    async def expired_watches_used_up() -> bool:
        return not emulator.control.faults(cluster.name).fail_requests

    await wait_until(expired_watches_used_up, within=WITHIN, what="the refused watches to be retried")
    await synced(cache)
    await client.apply(config_map("two", team="blue"))
    await seen.saw("ADDED", "two")
    assert {o["metadata"]["name"] for o in cache.list("v1", "ConfigMap")} == {"one", "two"}


async def test_a_cache_watches_only_the_kinds_started_and_starts_others_when_asked(
    pool: KubePool, cluster: ClusterInfo
) -> None:
    client = await pool.client(cluster.name)
    await client.apply(config_map("early", team="blue"))
    seen = Seen()
    cache = pool.cache(cluster.name, KINDS, SELECTOR, seen, start=[("apps/v1", "Deployment")])
    await synced(cache)
    # One watch (one connection) for the kind started; the ConfigMaps are neither listed nor held.
    assert cache.watched == {("apps/v1", "Deployment")} and len(cache.tasks) == 1
    assert cache.holds("apps/v1", "Deployment") and not cache.holds("v1", "ConfigMap")
    assert cache.covers("v1", "ConfigMap") and cache.list("v1", "ConfigMap") == []
    assert ("ADDED", "early") not in seen.events

    # Started later, the kind is listed (its handlers hear of what was there) and then watched.
    cache.start([("v1", "ConfigMap")])
    assert not cache.synced  # listed only at the next turns of the loop
    await synced(cache)
    await seen.saw("ADDED", "early")
    assert cache.holds("v1", "ConfigMap") and len(cache.tasks) == 2
    await client.apply(config_map("later", team="blue"))
    await seen.saw("ADDED", "later")
    cache.start([("v1", "ConfigMap")])  # already watched: no second watch
    assert len(cache.tasks) == 2
    with pytest.raises(ValueError, match="v1 Secret is not one of the kinds"):
        cache.start([("v1", "Secret")])
    assert len(cache.tasks) == 2


async def test_forgetting_the_cluster_stops_its_cache(pool: KubePool, cluster: ClusterInfo) -> None:
    cache = pool.cache(cluster.name, KINDS, SELECTOR)
    await synced(cache)
    tasks = cache.tasks
    assert tasks and not any(t.done() for t in tasks)
    pool.forget(cluster.name)
    async with asyncio.timeout(WITHIN):
        await asyncio.wait(tasks)
    assert pool.caches(cluster.name) == [] and not cache.synced
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith(f"kube cache {cluster.name}")]


async def test_closing_the_pool_stops_every_cache(cluster: ClusterInfo) -> None:
    async def source(_: str) -> Any:
        return connection_to(cluster)

    pool = KubePool(source, call_timeout=5.0)
    cache = pool.cache(cluster.name, KINDS, SELECTOR)
    await synced(cache)
    tasks = cache.tasks
    await pool.close()
    assert all(t.done() for t in tasks)


async def test_a_cluster_that_no_longer_exists_is_forgotten(emulator: EmulatorHandle) -> None:
    gone = emulator.add_cluster(f"g-{uuid.uuid4().hex[:8]}")
    known = {gone.name: connection_to(gone)}

    async def source(name: str) -> Connection:
        if name not in known:
            raise NotFoundError(f"cluster {name} not found")
        return known[name]

    pool = KubePool(source, call_timeout=5.0)
    try:
        cache = pool.cache(gone.name, KINDS, SELECTOR)
        await synced(cache)
        tasks = cache.tasks
        # The cluster is deleted: its API server goes away, and so do its credentials.
        del known[gone.name]
        emulator.remove_cluster(gone.name)
        async with asyncio.timeout(WITHIN):
            await asyncio.wait(tasks)
        assert pool.caches(gone.name) == [] and len(pool) == 0
    finally:
        await pool.close()


def test_pods_keep_only_their_containers_requests_and_nodes_lose_their_images() -> None:
    pod = {
        "kind": "Pod",
        "metadata": {"name": "web", "managedFields": [{"manager": "kubectl"}]},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx", "env": [{"name": "A", "value": "1"}],
                 "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "1"}}},
                {"name": "sidecar", "image": "envoy"},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
        "status": {"phase": "Running"},
    }
    assert slim(pod) == {
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "250m"}}}, {"name": "sidecar"}]},
        "status": {"phase": "Running"},
    }
    node = {"kind": "Node", "metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "4"}, "images": [{"names": ["nginx"], "sizeBytes": 1}]}}
    assert slim(node)["status"] == {"allocatable": {"cpu": "4"}}
    assert "images" in node["status"]  # the caller's object is not changed


def test_a_pod_keeps_its_phase_conditions_and_container_states_without_times_addresses_or_ids() -> None:
    waiting = {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}
    pod = {
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                            "lastProbeTime": None, "lastTransitionTime": "2026-12-04T00:07:24Z"}],
            "hostIP": "172.18.0.2", "hostIPs": [{"ip": "172.18.0.2"}],
            "podIP": "10.244.0.3", "podIPs": [{"ip": "10.244.0.3"}],
            "startTime": "2026-12-04T00:07:24Z", "qosClass": "BestEffort",
            "initContainerStatuses": [
                {"name": "init", "image": "busybox", "imageID": "sha256:1", "ready": True, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-12-04T00:07:24Z",
                                          "finishedAt": "2026-12-04T00:07:25Z", "containerID": "containerd://1"}},
                 "containerID": "containerd://1"},
            ],
            "containerStatuses": [
                {"name": "app", "image": "nginx:9", "imageID": "", "ready": False, "restartCount": 2,
                 "started": False, "state": {"waiting": waiting},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-12-04T00:07:26Z"}},
                 "containerID": "containerd://2"},
            ],
        },
    }
    assert slim(pod)["status"] == {
        "phase": "Pending",
        "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "initContainerStatuses": [
            {"name": "init", "image": "busybox", "ready": True, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        ],
        "containerStatuses": [
            {"name": "app", "image": "nginx:9", "ready": False, "restartCount": 2, "state": {"waiting": waiting},
             "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}},
        ],
    }
    assert slim(pod)["metadata"] == {"name": "web", "labels": {"app": "web"}}
    assert "hostIP" in pod["status"]  # the caller's object is not changed


def test_objects_with_the_same_labels_share_them_and_sets_no_object_carries_are_dropped() -> None:
    """Kept small (``_LabelSets``): a deployment's objects share one tuple of labels; a rollout's
    old labels (a pod-template-hash no Pod has any more) do not pile up."""
    kind = ("v1", "Pod")
    cache = ClusterCache("c", lambda: None, [kind], "", index="app")  # never started: no client needed

    def pod(name: str, template: str, version: int) -> dict[str, Any]:
        labels = {"app": "web", "pod-template-hash": template}
        metadata = {"name": name, "namespace": "ns", "labels": labels, "resourceVersion": str(version)}
        return {"type": "ADDED", "object": {"metadata": metadata, "status": {"phase": "Running"}}}

    cache._apply(kind, pod("a", "h0", 1))
    cache._apply(kind, pod("b", "h0", 2))
    first, second = (cache._objects[kind][f"ns/{name}"].labels for name in ("a", "b"))
    assert first is second
    for version in range(3, 400):  # a rollout every event: each pod gets new labels
        cache._apply(kind, pod("ab"[version % 2], f"h{version}", version))
    assert len(cache._label_sets) <= 2 * 2 + 64
    assert [p["metadata"]["labels"]["pod-template-hash"] for p in cache.list(*kind, {"app": "web"})] == ["h398", "h399"]


def test_a_kind_is_packed_again_against_a_settled_object_and_a_relist_of_the_same_tells_nothing() -> None:
    """A cluster's first Pod is one just created; once the kind holds enough objects they are all
    packed again against a settled one (``packing.RESEED_AT``), smaller, and still compared by
    their packed text: listing the same objects again is no change."""
    kind = ("v1", "Pod")
    cache = ClusterCache("c", lambda: None, [kind], "", index="app")
    seen = Seen()
    cache.add_handler(seen)

    def pod(index: int, settled: bool) -> dict[str, Any]:
        metadata = {"name": f"web-{index}", "namespace": "ns", "labels": {"app": f"web-{index // 2}"},
                    "resourceVersion": str(index + 1)}
        status: dict[str, Any] = {"phase": "Pending"}
        if settled:
            conditions = ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            status = {"phase": "Running", "conditions": [{"type": name, "status": "True"} for name in conditions],
                "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0, "started": True,
                                       "image": f"registry.example.com/web:{index}", "state": {"running": {}}}]}
        return {"metadata": metadata, "spec": {"containers": [{"name": "web", "image": "web"}]}, "status": status}

    pods = [pod(0, settled=False)] + [pod(index, settled=True) for index in range(1, RESEED_AT[0] + 4)]
    first_only = KindPacker()  # packs against the first object only, as before a reseed
    before = [len(first_only.pack(slim({"apiVersion": "v1", "kind": "Pod", **p}))) for p in pods]
    for index, obj in enumerate(pods):
        cache._apply(kind, {"type": "ADDED", "object": obj})
        if index + 1 < RESEED_AT[0]:
            assert len(cache._objects[kind][f"ns/web-{index}"].packed) == before[index]
    held = [len(cache._objects[kind][f"ns/web-{index}"].packed) for index in range(len(pods))]
    assert sum(held[1:]) * 3 < sum(before[1:]) * 2
    for index, obj in enumerate(pods):
        assert cache.get("v1", "Pod", "ns", f"web-{index}") == slim({"apiVersion": "v1", "kind": "Pod", **obj})
    assert [o["metadata"]["name"] for o in cache.list("v1", "Pod", {"app": "web-3"})] == ["web-6", "web-7"]

    told = len(seen.events)
    cache._replace(kind, pods)  # a re-list after a watch expired: nothing changed
    assert seen.events[told:] == []
    cache._replace(kind, [*pods[:-1], pod(len(pods) - 1, settled=False)])
    assert seen.events[told:] == [("MODIFIED", f"web-{len(pods) - 1}")]
