"""Placement counts the requests of bound claims whose workloads the last probe did not see
(issue 14): a burst of claims spreads by the capacity that is really left, and a claim whose pods
the probe saw is not counted twice. No workload is ever applied for most claims here, as when
delivery has not got to them yet, and probes keep running (every 0.3 s) throughout."""

from __future__ import annotations

import asyncio
from collections import Counter

from threeport.clusters.v1alpha1 import cluster_claim_pb2

from .conftest import ClusterManager, Kube
from .helpers import claim_when, cluster_when, is_true
from .test_health import create_pod
from .test_placement import Requirements, Spec, attach_ready, bound, claim

REQUEST = 500  # millicores per claim; a node of the emulator has 4000


async def test_a_burst_of_claims_spreads_by_the_capacity_left(manager: ClusterManager, kube: Kube) -> None:
    big = [await attach_ready(manager, kube, f"big{index}", nodes=2) for index in range(2)]
    small = [await attach_ready(manager, kube, f"small{index}", nodes=1) for index in range(6)]
    assert {c.status.requested_cpu_millis for c in big + small} == {0}

    # 40 claims at once, placed by four workers: the probes never see any of them.
    created = await asyncio.gather(
        *(claim(manager, f"burst-{index}", Spec(requirements=Requirements(cpu_millis=REQUEST))) for index in range(40))
    )
    placed = [await bound(manager, c.name) for c in created]
    per_cluster = Counter(c.status.cluster for c in placed)

    free = {
        c.name: c.status.allocatable_cpu_millis - REQUEST * per_cluster[c.name] for c in big + small
    }
    # Greedy by free capacity: the 8-core clusters take claims until they are as empty as the
    # 4-core ones, then all share. Before, every claim went to the two big ones (the probes'
    # free CPU never changed), leaving them 2000m short of the others.
    assert max(free.values()) - min(free.values()) <= REQUEST, (per_cluster, free)
    small_counts = [per_cluster[c.name] for c in small]
    assert max(small_counts) - min(small_counts) <= 1, per_cluster


async def test_claims_placed_at_once_never_take_more_than_the_room_left(manager: ClusterManager, kube: Kube) -> None:
    only = await attach_ready(manager, kube, "room", nodes=1)
    room = only.status.allocatable_cpu_millis - only.status.requested_cpu_millis
    # Twice what fits, created at once: four workers place them concurrently, and each
    # placement must see the bindings made before it (the placement lock).
    created = await asyncio.gather(
        *(claim(manager, f"share-{index}", needs(room // 4)) for index in range(8))
    )
    outcomes = [
        await claim_when(
            manager.internal, c.name, lambda c: bool(c.status.placement_reason), f"{c.name} placed or refused"
        )
        for c in created
    ]
    placed = [c for c in outcomes if c.status.cluster]
    refused = [c for c in outcomes if not c.status.cluster]
    assert len(placed) == 4 and len(refused) == 4, [c.status.placement_reason for c in outcomes]
    assert all("CPU free of" in c.status.placement_reason for c in refused), refused[0].status.placement_reason


def deployment_pod(name: str, cpu: str) -> dict[str, object]:
    """A pod as delivery applies it: the DESIGN §5 labels of a deployment."""
    labels = {"app.kubernetes.io/managed-by": "threeport", "threeport.io/project": "acme",
              "threeport.io/deployment": name}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu}}}]},
    }


def needs(cpu: int) -> cluster_claim_pb2.ClusterClaimSpec:
    return Spec(requirements=Requirements(cpu_millis=cpu))


async def test_a_claim_whose_pods_the_probe_saw_is_not_counted_twice(manager: ClusterManager, kube: Kube) -> None:
    info = kube.cluster("seen")
    cluster = await manager.client.cluster.attach_cluster(cluster_id="seen", kubeconfig=kube.kubeconfig(info))
    ready = await cluster_when(
        manager.client, cluster.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready"
    )
    total = ready.status.allocatable_cpu_millis

    first = await bound(manager, (await claim(manager, "first", needs(300))).name)
    assert f"({total}m CPU" in first.status.placement_reason
    # Bound, probed since (every bind re-probes its cluster), but its pods are not there yet.
    second = await bound(manager, (await claim(manager, "second", needs(100))).name)
    assert f"({total - 300}m CPU" in second.status.placement_reason, second.status.placement_reason

    # The first claim's workload starts: the probe counts it, the claim's declaration no longer does.
    create_pod(info, deployment_pod("first", "300m"))
    await cluster_when(
        manager.client, cluster.name, lambda c: c.status.deployments_requested_cpu_millis == 300, "the pod counted"
    )
    third = await bound(manager, (await claim(manager, "third", needs(100))).name)
    # 300m seen in the probe, plus the second claim's 100m that still runs nowhere.
    assert f"({total - 400}m CPU" in third.status.placement_reason, third.status.placement_reason


async def test_claims_that_declare_no_requests_count_as_the_average_running_deployment(
    manager: ClusterManager, kube: Kube
) -> None:
    """Delivery's claims declare no requests. Two deployments already run on one of four equal
    clusters; a burst of 14 more is placed before any of their pods exist. Each is assumed to
    need what the running ones request on average, so the burst evens the clusters out instead
    of following the probes (which show only the first cluster busy, until delivery catches up)."""
    busy_info = kube.cluster("busy")
    attached = await manager.client.cluster.attach_cluster(cluster_id="busy", kubeconfig=kube.kubeconfig(busy_info))
    busy = await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), "busy to be Ready")
    others = [await attach_ready(manager, kube, f"idle{index}") for index in range(3)]
    for name in ("running-a", "running-b"):
        await bound(manager, (await claim(manager, name, Spec(cluster=busy.name))).name)
        create_pod(busy_info, deployment_pod(name, "500m"))
    await cluster_when(
        manager.client, busy.name, lambda c: c.status.deployments_running == 2, "both deployments seen running"
    )

    created = await asyncio.gather(*(claim(manager, f"later-{index}", Spec()) for index in range(14)))
    for c in created:
        await bound(manager, c.name)
    claims = [c async for c in manager.internal.internal.cluster_claim.list_cluster_claims()]
    per_cluster = Counter(c.status.cluster for c in claims)
    counts = [per_cluster[c.name] for c in [busy, *others]]
    # 16 deployments, 4 each. Before, the busy cluster looked 1000m fuller at every probe and got
    # none of the 14 (2 against 4-5 on each other cluster).
    assert max(counts) - min(counts) <= 1, per_cluster
