"""ClusterClaim placement against real clusters: explicit name, requirement match, capacity
preference, on-demand creation, pending with a reason, release and garbage collection, and
deletion refused while claims are bound."""

from __future__ import annotations

import pytest

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_pb2
from threeport.common.v1alpha1 import retain_policy_pb2
from threeport.sdk import AbortedError, FailedPreconditionError, NotFoundError

from .conftest import ClusterManager, Kube
from .helpers import claim_when, cluster_when, condition, gone, is_true

Claim = cluster_claim_pb2.ClusterClaim
Spec = cluster_claim_pb2.ClusterClaimSpec
Requirements = cluster_claim_pb2.ClusterRequirements


async def attach_ready(
    manager: ClusterManager, kube: Kube, cluster_id: str, *, nodes: int = 1, location: str = "", **labels: str
) -> cluster_pb2.Cluster:
    info = kube.cluster(cluster_id, nodes=nodes)
    attached = await manager.client.cluster.attach_cluster(
        cluster_id=cluster_id, kubeconfig=kube.kubeconfig(info), location=location, labels=labels
    )
    return await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), f"{cluster_id} to be Ready")


async def claim(manager: ClusterManager, claim_id: str, spec: cluster_claim_pb2.ClusterClaimSpec) -> Claim:
    spec.owner = spec.owner or f"projects/acme/deployments/{claim_id}"
    return await manager.internal.internal.cluster_claim.create_cluster_claim(
        cluster_claim_id=claim_id, cluster_claim=Claim(spec=spec)
    )


async def bound(manager: ClusterManager, name: str) -> Claim:
    return await claim_when(
        manager.internal, name, lambda c: is_true(c, "Ready") and bool(c.status.cluster), f"{name} to be bound"
    )


async def test_explicit_match_and_capacity_rules(manager: ClusterManager, kube: Kube) -> None:
    small = await attach_ready(manager, kube, "small", nodes=1, location="Europe:Frankfurt", tier="gold")
    large = await attach_ready(manager, kube, "large", nodes=3, location="Europe:Frankfurt", tier="silver")
    other = await attach_ready(manager, kube, "other", nodes=3, location="Asia:Tokyo", tier="gold")
    assert large.status.allocatable_cpu_millis > small.status.allocatable_cpu_millis

    explicit = await bound(manager, (await claim(manager, "explicit", Spec(cluster=small.name))).name)
    assert explicit.status.cluster == small.name
    assert explicit.status.placement_reason == f"explicitly requested cluster {small.name}"

    matching = await bound(
        manager,
        (
            await claim(
                manager,
                "gold-eu",
                Spec(requirements=Requirements(location="Europe:Frankfurt", labels={"tier": "gold"})),
            )
        ).name,
    )
    assert matching.status.cluster == small.name, matching.status.placement_reason
    assert "1 matching cluster" in matching.status.placement_reason

    roomy = await bound(
        manager, (await claim(manager, "any-eu", Spec(requirements=Requirements(location="Europe:Frankfurt")))).name
    )
    assert roomy.status.cluster == large.name
    assert (
        "most free capacity" in roomy.status.placement_reason and "2 matching clusters" in roomy.status.placement_reason
    )

    too_big = small.status.allocatable_cpu_millis + 1
    needs_room = await bound(
        manager,
        (
            await claim(
                manager, "big-gold", Spec(requirements=Requirements(labels={"tier": "gold"}, cpu_millis=too_big))
            )
        ).name,
    )
    assert needs_room.status.cluster == other.name

    # The cluster records who uses it.
    used = await cluster_when(
        manager.client, small.name, lambda c: len(c.status.claims) == 2, "small to list its two claims"
    )
    assert sorted(used.status.claims) == sorted([explicit.name, matching.name])


async def test_no_match_pending_or_on_demand_then_collected(manager: ClusterManager, kube: Kube) -> None:
    await attach_ready(manager, kube, "plain", location="Europe:Frankfurt")
    wanted = Requirements(location="Asia:Tokyo", labels={"gpu": "true"})

    refused = await claim(manager, "no-match", Spec(requirements=wanted))
    pending = await claim_when(
        manager.internal, refused.name, lambda c: bool(c.status.placement_reason), "a pending reason"
    )
    assert pending.status.cluster == ""
    assert "does not allow on-demand" in pending.status.placement_reason
    assert "clusters/plain: location Europe:Frankfurt is not Asia:Tokyo" in pending.status.placement_reason
    assert condition(pending, "Ready").reason == "NoMatchingCluster"  # type: ignore[union-attr]

    allowed = await claim(
        manager, "on-demand", Spec(requirements=wanted, allow_on_demand=True, on_demand_provider="sim")
    )
    placed = await bound(manager, allowed.name)
    assert placed.status.provisioned and placed.status.cluster.startswith("clusters/od-on-demand-")
    assert "created " + placed.status.cluster + " on demand (provider sim)" in placed.status.placement_reason
    created = await manager.client.cluster.get_cluster(name=placed.status.cluster)
    assert created.spec.on_demand and created.spec.provider == "sim"
    assert created.spec.location == "Asia:Tokyo" and created.labels["gpu"] == "true"
    assert created.status.infrastructure.startswith("sim/")
    emulated = created.status.infrastructure.removeprefix("sim/")
    assert emulated in {c.name for c in kube.handle.control.list_clusters()}

    # The pending claim fits the new cluster too, but needs no on-demand permission to use it.
    await claim_when(
        manager.internal, refused.name, lambda c: c.status.cluster == created.name, "the pending claim to bind"
    )

    for name in (allowed.name, refused.name):
        await manager.internal.internal.cluster_claim.delete_cluster_claim(name=name)
    await gone(lambda: manager.client.cluster.get_cluster(name=created.name), "the unused on-demand cluster to go")
    assert emulated not in {c.name for c in kube.handle.control.list_clusters()}


async def test_retained_on_demand_cluster_stays(manager: ClusterManager, kube: Kube) -> None:
    allowed = await claim(manager, "keep", Spec(allow_on_demand=True, requirements=Requirements(labels={"x": "1"})))
    placed = await bound(manager, allowed.name)
    for _attempt in range(10):
        # Health probes write status (and so the etag) every interval: re-read on a conflict.
        cluster = await manager.client.cluster.get_cluster(name=placed.status.cluster)
        cluster.spec.retain_policy = retain_policy_pb2.RETAIN_POLICY_RETAIN
        try:
            await manager.client.cluster.update_cluster(cluster=cluster)
            break
        except AbortedError:
            continue
    await manager.internal.internal.cluster_claim.delete_cluster_claim(name=allowed.name)
    await gone(lambda: manager.internal.internal.cluster_claim.get_cluster_claim(name=allowed.name), "the claim to go")
    unused = await cluster_when(
        manager.client, cluster.name, lambda c: condition(c, "InUse") is not None and not c.status.claims, "unused"
    )
    # Several grace periods later it is still there.
    await cluster_when(
        manager.client,
        cluster.name,
        lambda c: c.status.last_probe_time.ToSeconds() >= unused.status.last_probe_time.ToSeconds() + 3,
        "three more seconds of probes",
    )
    await manager.client.cluster.delete_cluster(name=cluster.name)
    await gone(lambda: manager.client.cluster.get_cluster(name=cluster.name), "the retained cluster to be deleted")


async def test_delete_refused_while_claims_are_bound(manager: ClusterManager, kube: Kube) -> None:
    cluster = await attach_ready(manager, kube, "busy")
    first = await bound(manager, (await claim(manager, "first", Spec(cluster=cluster.name))).name)
    second = await bound(manager, (await claim(manager, "second", Spec(cluster=cluster.name))).name)
    with pytest.raises(FailedPreconditionError) as refused:
        await manager.client.cluster.delete_cluster(name=cluster.name)
    assert refused.value.reason == "RESOURCE_IN_USE"
    assert first.name in refused.value.message and second.name in refused.value.message
    still = await manager.client.cluster.get_cluster(name=cluster.name)
    assert not still.HasField("delete_time")

    await manager.internal.internal.cluster_claim.delete_cluster_claim(name=first.name)
    await gone(lambda: manager.internal.internal.cluster_claim.get_cluster_claim(name=first.name), "first to go")
    with pytest.raises(FailedPreconditionError) as still_refused:
        await manager.client.cluster.delete_cluster(name=cluster.name)
    assert second.name in still_refused.value.message and first.name not in still_refused.value.message

    await manager.client.cluster.delete_cluster(name=cluster.name, force=True)
    await gone(lambda: manager.client.cluster.get_cluster(name=cluster.name), "the force-deleted cluster to go")
    # The claim may first say the cluster "is being deleted"; once it is gone it must say so.
    orphan = await claim_when(
        manager.internal,
        second.name,
        lambda c: not c.status.cluster and "does not exist" in c.status.placement_reason,
        "the orphaned claim to say its cluster does not exist",
    )
    assert not orphan.status.cluster
    with pytest.raises(NotFoundError):
        await manager.internal.internal.cluster_credentials.get_cluster_credentials(name=cluster.name)


async def test_claims_without_requirements_spread_over_equal_clusters(manager: ClusterManager, kube: Kube) -> None:
    clusters = [await attach_ready(manager, kube, f"equal-{index}", nodes=1) for index in range(3)]
    names = [(await claim(manager, f"spread-{index}", Spec())).name for index in range(9)]
    placed = [(await bound(manager, name)).status.cluster for name in names]
    counts = {cluster.name: placed.count(cluster.name) for cluster in clusters}
    # Equal clusters used to mean the first by name took all nine.
    assert all(count >= 1 for count in counts.values()), counts
    assert sum(counts.values()) == len(names)
