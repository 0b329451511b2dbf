"""The Cluster reconciler: provision (drivers), connect, onboard, probe, collect, tear down.

One pass, for creation, change, resync and probe alike:

1. Being deleted: delete the infrastructure through the driver (provisioned clusters), drop
   the credentials, release the finalizer.
2. Provisioned providers: ``driver.create`` until it reports the API server up (idempotent).
3. Probe the API server; when reachable, server-side apply the onboarding objects (which also
   repairs anything removed since) if the cluster is not onboarded yet or the status refresh
   is due.
4. Write status and conditions (``Reachable``, ``Onboarded``, ``InUse``, ``Ready``), recording an
   Event on every reachability transition (``ClusterUnreachable``, ``ClusterRecovered``). A
   probe that finds nothing new is a heartbeat: ``last_probe_time`` and ``api_latency_ms`` are
   written only once the status refresh (``THREEPORT_CLUSTER_STATUS_REFRESH_SECONDS``) is due,
   as the kubelet reports an unchanged node status only every few minutes. Writing every
   cluster's status every probe interval, with the change event, relay and consumers each write
   sets off, was most of an idle cluster-manager's work.
5. On-demand clusters unused for the grace period are deleted unless their retain policy is
   RETAIN. Then look again after the probe interval.

A pass that comes before the probe interval is up (claims bound wake their cluster, so that
``status.claims`` and ``InUse`` show them within a couple of seconds; a resync; a restart) while the last probe found
the cluster Ready for its current generation only brings the claims up to date: steps 2-3 wait
for the interval. Probing on every binding made the cluster-manager's busiest work, while
placing thousands of claims, re-probing the same clusters (a provider call, a credential read,
a probe and the onboarding applies each time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport.common.v1alpha1 import event_pb2, retain_policy_pb2
from threeport_cluster_manager.config import ClusterManagerConfig
from threeport_cluster_manager.domain.names import last_segment
from threeport_cluster_manager.domain.onboarding import onboarding_manifests
from threeport_cluster_manager.drivers.base import Driver, DriverError, Provisioning
from threeport_cluster_manager.drivers.registry import PROVISIONED as PROVISIONED_PROVIDERS
from threeport_cluster_manager.drivers.registry import Drivers
from threeport_cluster_manager.probe import PROBED_KINDS, ProbeResult, probe
from threeport_cluster_manager.reconcilers.conditions import (
    CLUSTER_FINALIZER,
    IN_USE,
    ONBOARDED,
    PROVISIONED,
    REACHABLE,
    READY,
)
from threeport_cluster_manager.store.credentials import CredentialStore
from threeport_cluster_manager.store.repositories import Claims, Clusters
from threeport_model.locations import aws_region
from threeport_runtime.conditions import FALSE, TRUE, find_condition, set_condition
from threeport_runtime.db.repository import Stored
from threeport_runtime.errors import NotFound
from threeport_runtime.kube.connection import Connection
from threeport_runtime.kube.errors import KubeError, Unreachable
from threeport_runtime.kube.pool import KubePool
from threeport_runtime.reconcile.events import NORMAL, WARNING, EventRecorder
from threeport_runtime.reconcile.result import PermanentError, Result, TemporaryError

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]


@dataclass
class Observation:
    """What one pass learnt about the cluster's API server."""

    connection: Connection | None = None
    # Taken before the probe lists pods: a claim bound after it cannot be in the probe's
    # requests, which is how placement tells which bound claims to count on top (``Usage``).
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    result: ProbeResult | None = None
    failure: KubeError | None = None
    onboarding_failure: KubeError | None = None


class ClusterReconciler:
    def __init__(
        self,
        clusters: Clusters,
        claims: Claims,
        credentials: CredentialStore,
        drivers: Drivers,
        events: EventRecorder,
        config: ClusterManagerConfig,
        kube: KubePool,
    ):
        self._clusters = clusters
        self._claims = claims
        self._credentials = credentials
        self._drivers = drivers
        self._events = events
        self._config = config
        self._kube = kube
        # Set by the service: lets a vanished cluster's claims be re-placed promptly.
        self.enqueue_claim: Enqueue = lambda _name: None
        # When this process last probed each cluster: a heartbeat left unwritten still counts
        # towards the probe interval (the stored ``last_probe_time`` may be older).
        self._probed: dict[str, datetime] = {}

    async def __call__(self, name: str) -> Result | None:
        try:
            stored = await self._clusters.read(name)
        except NotFound:
            self._kube.forget(name)  # gone without a tear-down pass seen here: stop its watches
            self._probed.pop(name, None)
            return None
        cluster = stored.message
        try:
            driver = self._drivers.get(cluster.spec.provider)
        except KeyError:
            raise PermanentError("UnknownProvider", f"provider {cluster.spec.provider!r} is not known") from None
        if cluster.HasField("delete_time"):
            return await self._tear_down(cluster, driver)
        # Read with the cluster: only a missing finalizer costs another statement.
        missing = CLUSTER_FINALIZER not in stored.finalizers
        if missing and not await self._clusters.add_finalizer(name, CLUSTER_FINALIZER):
            return None
        claims = await self._bound_claims(name)
        collected = await self._collect_if_unused(cluster, claims)
        if collected is not None:
            return collected
        early = self._probe_due_in(cluster)
        if early > 0:
            await self._write_claims(stored, claims)
            return Result(requeue_after=min(early, self._next_look(cluster, claims)))
        connected: Connection | None = None
        if cluster.spec.provider in PROVISIONED_PROVIDERS:
            progress = await self._provision(cluster, driver)
            if isinstance(progress, Provisioning) and not progress.ready:
                return Result(requeue_after=self._config.provision_poll)
            # The connection provisioning just checked: asking the driver again found the same.
            connected = progress if isinstance(progress, Connection) else None
        observation = await self._observe(cluster, driver, connected)
        await self._write_status(stored, claims, observation)
        self._probed[name] = observation.started
        return Result(requeue_after=self._next_look(cluster, claims))

    # -- provisioning --------------------------------------------------------------------------

    async def _provision(self, cluster: cluster_pb2.Cluster, driver: Driver) -> Provisioning | Connection:
        """Runs ``driver.create`` unless the cluster is provisioned and connectable already (then
        the connection found)."""
        provisioned = find_condition(cluster.conditions, PROVISIONED)
        if provisioned is not None and provisioned.status == TRUE:
            try:
                connection = await driver.connect(cluster)
                if connection is not None:
                    return connection
            except DriverError:
                pass  # Fall through: create reports the provider's state.
        try:
            progress = await driver.create(cluster)
        except DriverError as exc:
            problem = str(exc)
            await self._record(cluster, WARNING, "ProvisioningFailed", problem)

            def failed(stored: cluster_pb2.Cluster) -> None:
                for kind in (PROVISIONED, READY):
                    set_condition(
                        stored.conditions,
                        kind,
                        False,
                        reason="ProvisioningFailed",
                        message=problem,
                        observed_generation=stored.generation,
                    )

            await self._clusters.update_status(cluster.name, failed)
            raise TemporaryError(problem) from None
        if progress.connection is not None:
            await self._credentials.put(cluster.name, cluster.uid, progress.connection)
        if progress.ready and (provisioned is None or provisioned.status != TRUE):
            await self._record(
                cluster, NORMAL, "Provisioned", f"{cluster.spec.provider} cluster {progress.infrastructure} is up"
            )

        def mark(stored: cluster_pb2.Cluster) -> None:
            stored.status.infrastructure = progress.infrastructure
            stored.status.region = aws_region(stored.spec.location) or ""
            if progress.connection is not None:
                stored.status.endpoint = progress.connection.server
            set_condition(
                stored.conditions,
                PROVISIONED,
                progress.ready,
                reason="Provisioned" if progress.ready else "Provisioning",
                message=progress.message or ("the API server is up" if progress.ready else "in progress"),
                observed_generation=stored.generation,
            )
            if not progress.ready:
                set_condition(
                    stored.conditions,
                    READY,
                    False,
                    reason="Provisioning",
                    message=progress.message or "the cluster is being created",
                    observed_generation=stored.generation,
                )

        await self._clusters.update_status(cluster.name, mark)
        return progress

    # -- probing and onboarding ----------------------------------------------------------------

    async def _observe(self, cluster: cluster_pb2.Cluster, driver: Driver, connected: Connection | None) -> Observation:
        observation = Observation()
        try:
            observation.connection = connected or await driver.connect(cluster)
        except DriverError as exc:
            observation.failure = Unreachable(str(exc))
            return observation
        if observation.connection is None:
            return observation
        try:
            # One client per cluster, kept while its credentials stay the same (issue 14).
            client = await self._kube.client(cluster.name, observation.connection)
            # Nodes and pods from a watch-fed cache once it is synced, not a listing per probe.
            cache = self._kube.cache(cluster.name, PROBED_KINDS, "")
            observation.result = await probe(client, cache)
        except KubeError as failure:
            observation.failure = failure
            return observation
        onboarded = find_condition(cluster.conditions, ONBOARDED)
        if onboarded is not None and onboarded.status == TRUE and not self._refresh_due(cluster, observation.started):
            return observation  # Applied within the refresh period: not again on every probe.
        try:
            for manifest in onboarding_manifests(last_segment(cluster.name)):
                await client.apply(manifest)
        except KubeError as failure:
            observation.onboarding_failure = failure
        return observation

    def _refresh_due(self, cluster: cluster_pb2.Cluster, now: datetime) -> bool:
        """Whether the stored heartbeat is older than the status refresh (or missing)."""
        if not cluster.status.HasField("last_probe_time"):
            return True
        written = cluster.status.last_probe_time.ToDatetime(tzinfo=UTC)
        return (now - written).total_seconds() >= self._config.status_refresh

    async def _write_status(self, stored: Stored[cluster_pb2.Cluster], claims: list[str], seen: Observation) -> None:
        """From the cluster as this pass read it (``update_status(read=...)``): a steady probe writes
        nothing, a change is one statement unless the cluster changed since the read."""
        cluster = stored.message
        before = find_condition(cluster.conditions, REACHABLE)
        was_reachable = None if before is None else before.status == TRUE
        result = seen.result

        def mutate(stored: cluster_pb2.Cluster) -> None:
            earlier = _Heartbeat.of(stored)
            generation = stored.generation
            status = stored.status
            status.region = aws_region(stored.spec.location) or ""
            status.last_probe_time.FromDatetime(seen.started)
            if seen.connection is not None:
                status.endpoint = seen.connection.server
            if result is not None:
                status.kubernetes_version = result.kubernetes_version
                status.node_count = result.node_count
                status.ready_node_count = result.ready_node_count
                status.allocatable_cpu_millis = result.allocatable_cpu_millis
                status.allocatable_memory_bytes = result.allocatable_memory_bytes
                status.requested_cpu_millis = result.requested_cpu_millis
                status.requested_memory_bytes = result.requested_memory_bytes
                status.deployments_requested_cpu_millis = result.deployments_requested_cpu_millis
                status.deployments_requested_memory_bytes = result.deployments_requested_memory_bytes
                status.deployments_running = result.deployments_running
                status.api_latency_ms = result.api_latency_ms
                set_condition(
                    stored.conditions,
                    REACHABLE,
                    True,
                    reason="ProbeSucceeded",
                    message=f"the API server answers; {result.ready_node_count}/{result.node_count} nodes ready",
                    observed_generation=generation,
                )
            elif seen.connection is None and seen.failure is None:
                set_condition(
                    stored.conditions,
                    REACHABLE,
                    False,
                    reason="NoCredentials",
                    message="no connection is stored for this cluster; attach it again",
                    observed_generation=generation,
                )
            else:
                failure = seen.failure
                assert failure is not None
                set_condition(
                    stored.conditions,
                    REACHABLE,
                    False,
                    reason=_reason(failure),
                    message=failure.message,
                    observed_generation=generation,
                )
            if seen.onboarding_failure is not None:
                set_condition(
                    stored.conditions,
                    ONBOARDED,
                    False,
                    reason="OnboardingFailed",
                    message=seen.onboarding_failure.message,
                    observed_generation=generation,
                )
            elif result is not None:
                set_condition(
                    stored.conditions,
                    ONBOARDED,
                    True,
                    reason="Onboarded",
                    message="threeport-system namespace, service account and RBAC are applied",
                    observed_generation=generation,
                )
            _set_claims(stored, claims)
            ready, reason, message = _readiness(stored, result, seen)
            set_condition(
                stored.conditions, READY, ready, reason=reason, message=message, observed_generation=generation
            )
            if not self._refresh_due(earlier.cluster, seen.started):
                earlier.keep_if_only_heartbeat_changed(stored)

        await self._clusters.update_status(cluster.name, mutate, read=stored)
        reachable = result is not None
        if was_reachable is not False and not reachable:
            failure = seen.failure.message if seen.failure else "no connection is stored"
            await self._record(cluster, WARNING, "ClusterUnreachable", failure)
        elif was_reachable is False and reachable:
            await self._record(cluster, NORMAL, "ClusterRecovered", "the API server answers again")

    def _probe_due_in(self, cluster: cluster_pb2.Cluster) -> float:
        """Seconds until the next probe is due, or 0 when this pass must probe: never probed,
        not Ready, or changed (its generation) since the last probe (the stored one, or a later
        one of this process whose heartbeat was not written)."""
        ready = find_condition(cluster.conditions, READY)
        if (
            ready is None
            or ready.status != TRUE
            or ready.observed_generation != cluster.generation
            or not cluster.status.HasField("last_probe_time")
        ):
            return 0.0
        probed = max(cluster.status.last_probe_time.ToDatetime(tzinfo=UTC),
                     self._probed.get(cluster.name, datetime.min.replace(tzinfo=UTC)))
        return max(self._config.probe_interval - (datetime.now(UTC) - probed).total_seconds(), 0.0)

    async def _write_claims(self, cluster: Stored[cluster_pb2.Cluster], claims: list[str]) -> None:
        """The bound claims and ``InUse``, the rest of the status as the last probe left it."""
        await self._clusters.update_status(cluster.message.name, lambda stored: _set_claims(stored, claims),
                                           read=cluster)

    # -- garbage collection and teardown -------------------------------------------------------

    async def _collect_if_unused(self, cluster: cluster_pb2.Cluster, claims: list[str]) -> Result | None:
        """Deletes an unused on-demand cluster after the grace period; None to carry on."""
        if claims or not cluster.spec.on_demand or cluster.spec.retain_policy == retain_policy_pb2.RETAIN_POLICY_RETAIN:
            return None
        in_use = find_condition(cluster.conditions, IN_USE)
        if in_use is None or in_use.status != FALSE:
            return None  # The unused period starts when this pass records InUse=False.
        unused_for = (datetime.now(UTC) - in_use.last_transition_time.ToDatetime(tzinfo=UTC)).total_seconds()
        if unused_for < self._config.gc_grace:
            return None
        await self._record(
            cluster,
            NORMAL,
            "Collected",
            f"created on demand and unused for {int(unused_for)}s (grace {int(self._config.gc_grace)}s); deleting",
        )
        await self._clusters.delete(cluster.name, allow_missing=True)
        return Result()

    async def _tear_down(self, cluster: cluster_pb2.Cluster, driver: Driver) -> Result | None:
        if cluster.spec.provider in PROVISIONED_PROVIDERS:
            try:
                gone = await driver.delete(cluster)
            except DriverError as exc:
                await self._record(cluster, WARNING, "DeprovisioningFailed", str(exc))
                raise TemporaryError(str(exc)) from None
            if not gone:
                return Result(requeue_after=self._config.provision_poll)
        await self._credentials.delete(cluster.name)
        self._kube.forget(cluster.name)
        self._probed.pop(cluster.name, None)
        for claim in await self._bound_claims(cluster.name):
            self.enqueue_claim(claim)
        await self._clusters.remove_finalizer(cluster.name, CLUSTER_FINALIZER)
        return None

    # -- helpers -------------------------------------------------------------------------------

    async def _bound_claims(self, cluster: str) -> list[str]:
        """The claims bound to the cluster: names only (a cluster reconcile follows every bind,
        and converting each bound claim made it cost O(claims on the cluster)), by a statement
        built once (a filter parsed and compiled for every pass cost ~1 ms)."""
        return list(await self._claims.names_with("status.cluster", cluster, hide_deleting=True))

    def _next_look(self, cluster: cluster_pb2.Cluster, claims: list[str]) -> float:
        interval = self._config.probe_interval
        if (
            cluster.spec.on_demand
            and not claims
            and cluster.spec.retain_policy != retain_policy_pb2.RETAIN_POLICY_RETAIN
        ):
            # Come back in time to collect it (the pass that records InUse=False starts the clock).
            in_use = find_condition(cluster.conditions, IN_USE)
            elapsed = 0.0
            if in_use is not None and in_use.status == FALSE:
                elapsed = (datetime.now(UTC) - in_use.last_transition_time.ToDatetime(tzinfo=UTC)).total_seconds()
            interval = min(interval, max(self._config.gc_grace - elapsed, 0.0) + 0.05)
        return interval

    async def _record(
        self, cluster: cluster_pb2.Cluster, kind: event_pb2.EventType.ValueType, reason: str, message: str
    ) -> None:
        await self._events.record(
            resource=cluster.name,
            resource_uid=cluster.uid,
            type=kind,
            reason=reason,
            message=message,
            generation=cluster.generation,
        )


@dataclass
class _Heartbeat:
    """A cluster's status and conditions before a probe's write, to tell a heartbeat (only
    ``last_probe_time`` and ``api_latency_ms`` differ) from a change."""

    cluster: cluster_pb2.Cluster

    @classmethod
    def of(cls, stored: cluster_pb2.Cluster) -> _Heartbeat:
        copy = cluster_pb2.Cluster()
        copy.status.CopyFrom(stored.status)
        copy.conditions.extend(stored.conditions)
        return cls(copy)

    def keep_if_only_heartbeat_changed(self, stored: cluster_pb2.Cluster) -> None:
        """Puts the earlier heartbeat back into ``stored`` when nothing else changed, so the
        write is skipped; leaves the new one when anything else did."""
        probed, latency = Timestamp(), stored.status.api_latency_ms
        probed.CopyFrom(stored.status.last_probe_time)
        stored.status.last_probe_time.CopyFrom(self.cluster.status.last_probe_time)
        stored.status.api_latency_ms = self.cluster.status.api_latency_ms
        if stored.status != self.cluster.status or list(stored.conditions) != list(self.cluster.conditions):
            stored.status.last_probe_time.CopyFrom(probed)
            stored.status.api_latency_ms = latency


def _set_claims(stored: cluster_pb2.Cluster, claims: list[str]) -> None:
    """``status.claims`` and the ``InUse`` condition from the claims bound now."""
    del stored.status.claims[:]
    stored.status.claims.extend(claims)
    set_condition(
        stored.conditions,
        IN_USE,
        bool(claims),
        reason="Claimed" if claims else "Unclaimed",
        message=f"{len(claims)} claim(s) bound" if claims else "no claim is bound",
        observed_generation=stored.generation,
    )


def _reason(failure: KubeError) -> str:
    return {
        "unreachable": "Unreachable",
        "unauthorized": "Unauthorized",
        "forbidden": "Forbidden",
        "tls": "TLSError",
    }.get(failure.kind, "ProbeFailed")


def _readiness(stored: cluster_pb2.Cluster, result: ProbeResult | None, seen: Observation) -> tuple[bool, str, str]:
    if result is None:
        reachable = find_condition(stored.conditions, REACHABLE)
        return False, "Unreachable", reachable.message if reachable else "not probed yet"
    if seen.onboarding_failure is not None:
        return False, "OnboardingFailed", seen.onboarding_failure.message
    if result.ready_node_count == 0:
        return False, "NoReadyNodes", f"none of the {result.node_count} nodes is ready"
    return (
        True,
        "ClusterReady",
        (
            f"Kubernetes {result.kubernetes_version}, {result.ready_node_count}/{result.node_count} nodes ready, "
            f"onboarded"
        ),
    )
