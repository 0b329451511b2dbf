"""Polling helpers for the cluster tests (no timed assertions: generous deadlines only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_pb2
from threeport.common.v1alpha1 import condition_pb2
from threeport.sdk import AsyncClient, NotFoundError, UnavailableError
from threeport_runtime.testing import wait_until

T = TypeVar("T")
WITHIN = 30.0


def condition(
    resource: cluster_pb2.Cluster | cluster_claim_pb2.ClusterClaim, kind: str
) -> condition_pb2.Condition | None:
    return next((c for c in resource.conditions if c.type == kind), None)


def is_true(resource: cluster_pb2.Cluster | cluster_claim_pb2.ClusterClaim, kind: str) -> bool:
    found = condition(resource, kind)
    return found is not None and found.status == condition_pb2.CONDITION_STATUS_TRUE


def is_false(resource: cluster_pb2.Cluster | cluster_claim_pb2.ClusterClaim, kind: str) -> bool:
    found = condition(resource, kind)
    return found is not None and found.status == condition_pb2.CONDITION_STATUS_FALSE


async def cluster_when(
    client: AsyncClient, name: str, check: Callable[[cluster_pb2.Cluster], bool], what: str, within: float = WITHIN
) -> cluster_pb2.Cluster:
    async def probe() -> cluster_pb2.Cluster | None:
        cluster = await client.cluster.get_cluster(name=name)
        return cluster if check(cluster) else None

    return await wait_until(probe, within=within, interval=0.1, what=what)


async def claim_when(
    client: AsyncClient,
    name: str,
    check: Callable[[cluster_claim_pb2.ClusterClaim], bool],
    what: str,
    within: float = WITHIN,
) -> cluster_claim_pb2.ClusterClaim:
    async def probe() -> cluster_claim_pb2.ClusterClaim | None:
        try:
            claim = await client.internal.cluster_claim.get_cluster_claim(name=name)
        except UnavailableError:
            return None  # A restarting service: look again.
        return claim if check(claim) else None

    return await wait_until(probe, within=within, interval=0.1, what=what)


async def gone(getter: Callable[[], Awaitable[object]], what: str, within: float = WITHIN) -> None:
    async def probe() -> bool:
        try:
            await getter()
        except NotFoundError:
            return True
        return False

    await wait_until(probe, within=within, interval=0.1, what=what)
