"""The ClusterInfra reconciler: builds an EKS cluster and what it stands on (``eks.builder``),
recording every step in ``status.inventory`` before and after its call, publishes the endpoint,
CA and OIDC provider once the cluster and its node groups are ACTIVE, and on deletion tears
everything down in reverse before it lets the ClusterInfra go.
"""

from __future__ import annotations

from threeport.common.v1alpha1 import event_pb2, state_pb2
from threeport.infra.v1alpha1 import cluster_infra_pb2, managed_service_pb2
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.cloud.aws import AwsError
from threeport_infra_provider.eks.builder import Built, EksBuilder
from threeport_infra_provider.eks.plan import plan_of
from threeport_infra_provider.store.repositories import ClusterInfras
from threeport_runtime.errors import FailedPrecondition, NotFound
from threeport_runtime.reconcile.events import NORMAL, EventRecorder
from threeport_runtime.reconcile.result import PermanentError, Result, TemporaryError
from threeport_runtime.reconcile.status import mark_ready

FINALIZER = "infra.threeport.io/cluster-infra"
ClusterInfra = cluster_infra_pb2.ClusterInfra
CloudResource = managed_service_pb2.CloudResource


def upsert(inventory: list[CloudResource], role: str, entry: CloudResource) -> None:
    """Replaces the step's entry (its ``creating`` placeholder, id = role, or its resource) in
    place, keeping creation order; appends a new step's entry."""
    matches = [i for i, r in enumerate(inventory) if r.type == entry.type and r.id in (role, entry.id)]
    if not matches:
        inventory.append(entry)
        return
    inventory[matches[0]].CopyFrom(entry)
    for index in reversed(matches[1:]):
        del inventory[index]


class ClusterInfraReconciler:
    def __init__(self, infras: ClusterInfras, directory: AccountDirectory, events: EventRecorder, *, poll: float):
        self._infras = infras
        self._directory = directory
        self._events = events
        self._poll = poll

    async def builder(self, infra: ClusterInfra) -> EksBuilder:
        account = await self._directory.resolve(infra.spec.account)
        access = await self._directory.access(account)
        return EksBuilder(access, plan_of(infra, infra.spec.region or access.region))

    async def __call__(self, name: str) -> Result | None:
        try:
            infra = await self._infras.get(name)
        except NotFound:
            return None
        if infra.HasField("delete_time"):
            return await self._delete(infra)
        if not await self._infras.add_finalizer(name, FINALIZER):
            return None
        try:
            builder = await self.builder(infra)
            built = await builder.build(lambda role, entry: self._record(name, role, entry))
        except ValueError as error:
            # The region cannot hold the plan (too few zones): retrying cannot help.
            raise PermanentError("Unbuildable", str(error)) from None
        except (AwsError, FailedPrecondition, RuntimeError) as error:
            await self._report(name, ready=False, reason="ProviderError", message=str(error))
            raise TemporaryError(str(error)) from None
        await self._publish(infra, built)
        return None if built.ready else Result(requeue_after=self._poll)

    async def _record(self, name: str, role: str, entry: CloudResource) -> None:
        def mutate(stored: ClusterInfra) -> None:
            entries = list(stored.status.inventory)
            upsert(entries, role, entry)
            del stored.status.inventory[:]
            stored.status.inventory.extend(entries)

        await self._infras.update_status(name, mutate)

    async def _publish(self, infra: ClusterInfra, built: Built) -> None:
        was_ready = infra.state == state_pb2.STATE_READY

        def mutate(stored: ClusterInfra) -> None:
            if built.ready:
                stored.status.endpoint = built.endpoint
                stored.status.certificate_authority_data = built.certificate_authority_data
                stored.status.oidc_issuer = built.oidc_issuer
                stored.status.oidc_provider_arn = built.oidc_provider_arn
                stored.status.eks_cluster_name = builder_name(stored)
            mark_ready(
                stored, ready=built.ready, reason="Available" if built.ready else "Provisioning", message=built.message
            )

        await self._infras.update_status(infra.name, mutate)
        if built.ready and not was_ready:
            await self._event(infra, NORMAL, "Available", built.message)

    async def _report(self, name: str, *, ready: bool, reason: str, message: str) -> None:
        await self._infras.update_status(name, lambda s: mark_ready(s, ready=ready, reason=reason, message=message))

    async def _delete(self, infra: ClusterInfra) -> Result | None:
        try:
            waiting = await (await self.builder(infra)).teardown()
        except (AwsError, FailedPrecondition, ValueError) as error:
            await self._report(infra.name, ready=False, reason="DeleteFailed", message=str(error))
            raise TemporaryError(str(error)) from None
        if waiting:
            await self._report(infra.name, ready=False, reason="Deleting", message=waiting)
            return Result(requeue_after=self._poll)
        await self._event(
            infra, NORMAL, "Deleted", f"{infra.status.eks_cluster_name or infra.name} and its network deleted"
        )
        await self._infras.remove_finalizer(infra.name, FINALIZER)
        return None

    async def _event(self, infra: ClusterInfra, kind: event_pb2.EventType.ValueType, reason: str, message: str) -> None:
        await self._events.record(
            resource=infra.name,
            resource_uid=infra.uid,
            type=kind,
            reason=reason,
            message=message,
            generation=infra.generation,
        )


def builder_name(infra: ClusterInfra) -> str:
    return plan_of(infra, infra.spec.region).name
