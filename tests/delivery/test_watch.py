"""Delivery observes its clusters through a watch-fed cache (production intervals: no polling
settings): once the cache is synced, a steady reconcile reads nothing from the API server, a
rollout completes and drift (an edit, a delete, labels edited away) is repaired from watch events
alone, and a change made while delivery was down is repaired when it starts again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from threeport_kubesim.testing import EmulatorHandle
from threeport_runtime.kube.cache import ClusterCache
from threeport_runtime.runtime import RunningService
from threeport_runtime.testing import start_test_service, wait_until
from threeport_workload_delivery.service import DEFINITION as DELIVERY

from .conftest import (
    ADMIN,
    FAST,
    PARENT,
    PROJECT,
    WITHIN,
    Stack,
    World,
    client,
    delivery_env,
    running_stack,
)
from .samples import RATES

APP = "rates"
DEV = f"{PARENT}/deployments/{APP}-dev"
NAMESPACE = f"{PROJECT}-{APP}-dev"
SERVICE_PATH = f"/api/v1/namespaces/{NAMESPACE}/services/rates-svc"
DEPLOYMENT_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/rates-svc"
# Every kind delivery renders for RATES (and the rest it would look for), by resource name.
READS = ("deployments", "statefulsets", "daemonsets", "jobs", "cronjobs", "services", "configmaps", "secrets",
         "serviceaccounts", "namespaces", "ingresses", "horizontalpodautoscalers", "poddisruptionbudgets")
REFUSED = 10**6


@pytest.fixture
async def stack(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    """Delivery with production intervals (the conftest's stack polls every 0.1 s)."""
    delivery_env(monkeypatch, world[0].port, world[1].port)
    monkeypatch.delenv("THREEPORT_DELIVERY_POLL_SECONDS")
    monkeypatch.delenv("THREEPORT_DELIVERY_DRIFT_SECONDS")
    async with running_stack(world) as made:
        yield made


def caches(service: RunningService, cluster: str) -> list[ClusterCache]:
    return [cache for pool in service.runtime.kube_pools for cache in pool.caches(cluster)]


async def watching(stack: Stack) -> None:
    """Delivery's cache of the cluster is synced."""
    async def synced() -> bool:
        found = caches(stack.delivery, stack.cluster)
        return bool(found) and all(cache.synced for cache in found)

    await wait_until(synced, within=WITHIN, what="delivery's cache of the cluster to be synced")


async def deployed_and_watched(stack: Stack) -> None:
    """RATES deployed to dev, Ready, and delivery's cache of its cluster synced."""
    await stack.apply_application(APP, RATES)
    await stack.deployer.deployment.deploy(parent=PARENT, application=APP, environment="dev")
    await stack.ready(DEV)
    await watching(stack)


def refuse_reads(emulator: EmulatorHandle, cluster: str) -> None:
    """The API server refuses every list and get of the objects delivery manages (not the
    cluster-manager's probe: nodes, and Pods across namespaces)."""
    for resource in READS:
        for verb in ("list", "get"):
            emulator.control.fail_requests(cluster, 503, count=REFUSED, verb=verb, resource=resource,
                                           message="reads are refused in this test")
    emulator.control.fail_requests(cluster, 503, count=REFUSED, verb="list", resource="pods", namespace=NAMESPACE)
    emulator.control.fail_requests(cluster, 503, count=REFUSED, verb="get", resource="pods", namespace=NAMESPACE)


def reads_made(emulator: EmulatorHandle, cluster: str) -> list[dict[str, Any]]:
    """The refused reads somebody tried (each consumed one of its rule's count)."""
    return [rule for rule in emulator.control.faults(cluster).fail_requests if rule["remaining"] != REFUSED]


async def corrections(stack: Stack, what: str) -> int:
    """How many times a DriftCorrected event of the deployment named ``what`` (the same event
    again folds into one, counted)."""
    return sum(e.count for e in await stack.events(DEV) if e.reason == "DriftCorrected" and what in e.message)


async def drift_corrected(stack: Stack, before: int, what: str) -> None:
    async def corrected() -> bool:
        return await corrections(stack, what) > before

    await wait_until(corrected, within=WITHIN, what=f"DriftCorrected for {what}")


async def test_rollout_and_drift_repair_read_nothing_from_the_api_server(
    stack: Stack, emulator: EmulatorHandle
) -> None:
    cluster = stack.kube.info.name
    await deployed_and_watched(stack)
    refuse_reads(emulator, cluster)
    try:
        # Drift by hand (kubectl edit, kubectl delete, kubectl label ...-): each arrives as a
        # watch event and is repaired from the cache, with no read of the API server.
        stack.kube.patch(DEPLOYMENT_PATH, {"spec": {"template": {"spec": {"containers": [
            {"name": "svc", "image": "registry.example.com/rates/svc:hand-edited"}]}}}})
        await drift_corrected(stack, 0, "Deployment")
        assert stack.kube.delete(SERVICE_PATH) == 200
        await drift_corrected(stack, 0, "Service")
        before = await corrections(stack, "Service")
        stack.kube.patch(SERVICE_PATH, {"metadata": {"labels": {"threeport.io/deployment": None}}})
        await drift_corrected(stack, before, "Service")

        # A new release rolls out to Ready: its progress arrives as events, nothing is polled.
        await stack.apply_application(APP, {"components": {"svc": {**RATES["components"]["svc"],
                                                                   "image": "registry.example.com/rates/svc:1.1.0",
                                                                   "replicas": 2}}})
        rolled = await stack.deployment_when(
            DEV, lambda d: d.status.current_release == 2 and d.status.rollout.ready_replicas == 2
            and any(c.type == "Ready" and c.status == 1 and c.observed_generation == d.generation
                    for c in d.conditions), "release 2 to be Ready")
        assert rolled.status.rollout.desired_replicas == 2
        assert reads_made(emulator, cluster) == []
    finally:
        emulator.control.clear_faults(cluster)
    live = stack.kube.get(DEPLOYMENT_PATH)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"].endswith("svc:1.1.0")
    service = stack.kube.get(SERVICE_PATH)
    assert service["metadata"]["labels"]["threeport.io/deployment"] == f"{APP}-dev"


async def test_what_changed_while_delivery_was_down_is_repaired_when_it_starts(stack: Stack) -> None:
    await deployed_and_watched(stack)
    await stack.delivery.stop(grace=1.0)
    # No watch is there to see it: the new process's first list (and the resync at start) must.
    assert stack.kube.delete(SERVICE_PATH) == 200
    stack.delivery = await start_test_service(DELIVERY, stack.settings, FAST)
    stack.admin = client(stack.delivery.port, ADMIN, stack.opened)

    async def recreated() -> bool:
        return stack.kube.get(SERVICE_PATH) is not None

    await wait_until(recreated, within=WITHIN, what="the Service deleted while delivery was down to be back")
    await watching(stack)


async def test_a_cluster_is_watched_only_for_the_kinds_its_releases_use(
    stack: Stack, emulator: EmulatorHandle
) -> None:
    cluster = stack.kube.info.name
    await deployed_and_watched(stack)
    [cache] = caches(stack.delivery, stack.cluster)
    # One watch (one connection) per kind: those RATES renders, its Namespace and its Pods; not
    # the other nine kinds delivery could render.
    assert cache.watched == {("v1", "Namespace"), ("v1", "Pod"), ("v1", "ServiceAccount"), ("v1", "ConfigMap"),
                             ("apps/v1", "Deployment"), ("v1", "Service")}

    # A release that brings a new kind (an autoscaler) has it watched from then on: its drift is
    # repaired from watch events, with no read of the API server.
    scaled = {"components": {"svc": {**RATES["components"]["svc"], "autoscaling": {"min": 1, "max": 3, "cpu": 70}}}}
    await stack.apply_application(APP, scaled)
    await stack.deployment_when(
        DEV, lambda d: d.status.current_release == 2 and any(
            c.type == "Ready" and c.status == 1 and c.observed_generation == d.generation for c in d.conditions),
        "release 2 to be Ready")
    await watching(stack)
    assert ("autoscaling/v2", "HorizontalPodAutoscaler") in cache.watched
    refuse_reads(emulator, cluster)
    try:
        hpa = f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers/rates-svc"
        assert stack.kube.delete(hpa) == 200
        await drift_corrected(stack, 0, "HorizontalPodAutoscaler")
        assert reads_made(emulator, cluster) == []
    finally:
        emulator.control.clear_faults(cluster)
    assert stack.kube.get(hpa) is not None
