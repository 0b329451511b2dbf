"""The ClusterClaim reconciler: places a claim (``domain.placement``), binds it, releases it.

A binding is stable: once placed, a claim stays on its cluster while the cluster exists, and
only reports Ready=False while that cluster is unhealthy (workloads are not moved behind the
consumer's back). A claim whose cluster went away is placed again. On-demand clusters get a
name and a request id derived from the claim's uid, so a crash between creating the cluster and
recording the binding cannot create a second one.

Placing on an existing cluster reads the clusters and binds under the placement lock
(``store.placement``), so concurrent placements see each other's bindings; a binding records
its time, which is how the next placement knows the cluster's last probe has not seen it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_pb2
from threeport.common.v1alpha1 import event_pb2
from threeport_cluster_manager.domain.names import cluster_name, last_segment, on_demand_cluster_id
from threeport_cluster_manager.domain.placement import Decision, place
from threeport_cluster_manager.drivers.registry import Drivers
from threeport_cluster_manager.reconcilers.conditions import CLAIM_FINALIZER, REACHABLE, READY
from threeport_cluster_manager.store.placement import PlacementReads
from threeport_cluster_manager.store.repositories import Claims, Clusters
from threeport_runtime.conditions import TRUE, find_condition
from threeport_runtime.db.repository import Stored
from threeport_runtime.errors import AlreadyExists, NotFound
from threeport_runtime.reconcile.events import NORMAL, WARNING, EventRecorder
from threeport_runtime.reconcile.result import Result
from threeport_runtime.reconcile.status import mark_ready

DEFAULT_ON_DEMAND_PROVIDER = "sim"
PENDING_RETRY = 5.0
CLUSTER_WAKE_DELAY = 2.0
"""A claim bound or released wakes its cluster this long after, so that the cluster's
``status.claims`` and ``InUse`` show it; bindings within that time make one cluster pass. Waking
it at once made one status write per binding, each rewriting the cluster's whole list of claims:
1,000 deployments on one cluster wrote that list 1,000 times, growing to 1,000 names."""

Enqueue = Callable[[str, float], None]


class ClaimReconciler:
    def __init__(
        self, claims: Claims, clusters: Clusters, placement: PlacementReads, drivers: Drivers, events: EventRecorder
    ):
        self._claims = claims
        self._clusters = clusters
        self._placement = placement
        self._drivers = drivers
        self._events = events
        # Set by the service: the cluster controller's enqueue, so usage changes show promptly.
        self.enqueue_cluster: Enqueue = lambda _name, _after: None

    async def __call__(self, name: str) -> Result | None:
        try:
            stored = await self._claims.read(name)
        except NotFound:
            return None
        claim = stored.message
        if claim.HasField("delete_time"):
            if claim.status.cluster:
                self.enqueue_cluster(claim.status.cluster, CLUSTER_WAKE_DELAY)
            await self._claims.remove_finalizer(name, CLAIM_FINALIZER)
            return None
        # Read with the claim: only a missing finalizer costs another statement.
        if CLAIM_FINALIZER not in stored.finalizers and not await self._claims.add_finalizer(name, CLAIM_FINALIZER):
            return None
        if claim.status.cluster:
            bound = await self._clusters.find(claim.status.cluster)
            if bound is not None and not bound.HasField("delete_time"):
                await self._report_bound(stored, bound)
                return None
            await self._record(
                claim, WARNING, "ClusterLost", f"{claim.status.cluster} went away; placing the claim again"
            )
        async with self._placement.locked() as (clusters, usage):
            decision = place(claim, clusters, usage)
            if decision.cluster:
                target = next(c for c in clusters if c.name == decision.cluster)
                await self._write_binding(stored, target, decision.reason, provisioned=False)
        if decision.cluster:
            await self._announce_binding(claim, target, decision.reason)
            return None
        if decision.provision:
            return await self._provision(stored, decision)
        await self._pend(claim, "NoMatchingCluster", decision.reason)
        return Result(requeue_after=PENDING_RETRY)

    async def _provision(self, stored: Stored[cluster_claim_pb2.ClusterClaim], decision: Decision) -> Result | None:
        claim = stored.message
        spec = claim.spec
        provider = spec.on_demand_provider or spec.requirements.provider or DEFAULT_ON_DEMAND_PROVIDER
        problem = (
            self._drivers.unavailable(provider)
            if provider != "attached"
            else ("attached clusters cannot be created on demand")
        )
        if problem is not None:
            await self._pend(claim, "ProviderUnavailable", f"{decision.reason}; cannot create one: {problem}")
            return Result(requeue_after=PENDING_RETRY)
        name = cluster_name(on_demand_cluster_id(last_segment(claim.name), claim.uid))
        desired = cluster_pb2.Cluster(
            labels=dict(spec.requirements.labels),
            annotations={"threeport.io/created-for": claim.name},
            spec=cluster_pb2.ClusterSpec(
                provider=provider, location=spec.requirements.location, profile=spec.profile, on_demand=True
            ),
        )
        try:
            created = await self._clusters.create(desired, name=name, request_id=f"claim:{claim.uid}")
        except AlreadyExists:
            await self._pend(claim, "NameTaken", f"{decision.reason}; {name} exists and was not created for this claim")
            return Result(requeue_after=PENDING_RETRY)
        if created.HasField("delete_time"):
            # The previous on-demand cluster of this claim is still being torn down.
            await self._pend(claim, "WaitingForCleanup", f"{decision.reason}; waiting for {name} to finish deleting")
            return Result(requeue_after=1.0)
        await self._record(claim, NORMAL, "ClusterRequested", f"created {name} on demand (provider {provider})")
        reason = f"{decision.reason}; created {name} on demand (provider {provider})"
        await self._write_binding(stored, created, reason, provisioned=True)
        await self._announce_binding(claim, created, reason)
        return None

    async def _write_binding(
        self, claim: Stored[cluster_claim_pb2.ClusterClaim], cluster: cluster_pb2.Cluster, reason: str, *,
        provisioned: bool,
    ) -> None:
        """From the claim as this pass read it: one statement while the placement lock is held,
        unless the claim changed since (then the write re-reads it under its row lock)."""

        def mutate(stored: cluster_claim_pb2.ClusterClaim) -> None:
            stored.status.cluster = cluster.name
            stored.status.placement_reason = reason
            stored.status.provisioned = provisioned
            stored.status.bind_time.FromDatetime(datetime.now(UTC))
            _mark_by_cluster(stored, cluster)

        await self._claims.update_status(claim.message.name, mutate, read=claim)

    async def _announce_binding(
        self, claim: cluster_claim_pb2.ClusterClaim, cluster: cluster_pb2.Cluster, reason: str
    ) -> None:
        await self._record(claim, NORMAL, "Placed", reason)
        self.enqueue_cluster(cluster.name, CLUSTER_WAKE_DELAY)

    async def _report_bound(self, claim: Stored[cluster_claim_pb2.ClusterClaim], cluster: cluster_pb2.Cluster) -> None:
        """Compared with the claim as this pass read it: a steady pass (every resync) writes nothing."""
        await self._claims.update_status(claim.message.name, lambda stored: _mark_by_cluster(stored, cluster),
                                         read=claim)

    async def _pend(self, claim: cluster_claim_pb2.ClusterClaim, reason: str, message: str) -> None:
        def mutate(stored: cluster_claim_pb2.ClusterClaim) -> None:
            stored.status.cluster = ""
            stored.status.provisioned = False
            stored.status.ClearField("bind_time")
            stored.status.placement_reason = message
            mark_ready(stored, ready=False, reason=reason, message=message)

        before = claim.status.placement_reason
        await self._claims.update_status(claim.name, mutate)
        if before != message:
            await self._record(claim, WARNING, "Pending", message)

    async def _record(
        self, claim: cluster_claim_pb2.ClusterClaim, kind: event_pb2.EventType.ValueType, reason: str, message: str
    ) -> None:
        await self._events.record(
            resource=claim.name,
            resource_uid=claim.uid,
            type=kind,
            reason=reason,
            message=message,
            generation=claim.generation,
        )


def _mark_by_cluster(claim: cluster_claim_pb2.ClusterClaim, cluster: cluster_pb2.Cluster) -> None:
    """Ready follows the bound cluster's health."""
    ready = find_condition(cluster.conditions, READY)
    reachable = find_condition(cluster.conditions, REACHABLE)
    if ready is not None and ready.status == TRUE:
        mark_ready(claim, ready=True, reason="Bound", message=f"bound to {cluster.name}, which is ready")
    elif reachable is not None and reachable.status != TRUE:
        mark_ready(claim, ready=False, reason="ClusterUnreachable", message=f"{cluster.name}: {reachable.message}")
    else:
        detail = ready.message if ready is not None else "not ready yet"
        mark_ready(claim, ready=False, reason="ClusterNotReady", message=f"{cluster.name}: {detail}")
