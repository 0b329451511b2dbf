"""The standard-method servicers: ManagedService (operators create and delete services by hand
too), ServiceClaim (internal, for workload-delivery), ClusterInfra (internal, for the
cluster-manager's ``eks`` driver) and EventService."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import Any

from threeport.infra.v1alpha1 import (
    cluster_infra_pb2,
    cluster_infra_pb2_grpc,
    event_service_pb2,
    event_service_pb2_grpc,
    managed_service_pb2,
    managed_service_pb2_grpc,
    service_claim_pb2,
    service_claim_pb2_grpc,
)
from threeport_infra_provider.api.plan import ClaimPlanner
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.cloud.aws import AwsError
from threeport_infra_provider.domain.services import DEFAULT_IMPLEMENTATION, IMPLEMENTATIONS
from threeport_infra_provider.domain.validation import check_claim
from threeport_infra_provider.eks.connection import connection_of
from threeport_infra_provider.implementations.registry import unavailable_reason
from threeport_infra_provider.store.repositories import Claims
from threeport_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, Unavailable
from threeport_runtime.reconcile.events import EventLister
from threeport_runtime.rpc.standard_methods import StandardMethods


class ManagedServiceServicer(managed_service_pb2_grpc.ManagedServiceServiceServicer):
    def __init__(
        self, methods: StandardMethods[managed_service_pb2.ManagedService], claims: Claims, offered: Collection[str]
    ):
        self._methods = methods
        self._claims = claims
        self._offered = offered

    async def CreateManagedService(self, request: Any, context: Any) -> managed_service_pb2.ManagedService:
        _check_offered(request.managed_service.spec.implementation, self._offered)
        return await self._methods.create(request)

    async def GetManagedService(self, request: Any, context: Any) -> managed_service_pb2.ManagedService:
        return await self._methods.get(request)

    async def ListManagedServices(self, request: Any, context: Any) -> Any:
        return await self._methods.list(request, managed_service_pb2.ListManagedServicesResponse)

    async def UpdateManagedService(
        self, request: managed_service_pb2.UpdateManagedServiceRequest, context: Any
    ) -> managed_service_pb2.ManagedService:
        current = await self._methods.repository.find(request.managed_service.name)
        if current is not None:
            paths = list(request.update_mask.paths) or ["spec"]
            merged = managed_service_pb2.ManagedService()
            merged.CopyFrom(current)
            if any(path == "spec" for path in paths):
                merged.spec.CopyFrom(request.managed_service.spec)
            fixed = [
                (f, getattr(current.spec, f), getattr(merged.spec, f))
                for f in ("type", "implementation", "account", "region", "cluster", "namespace")
            ]
            changed = [field for field, before, after in fixed if before != after]
            if changed:
                raise InvalidArgument.for_fields(
                    [
                        FieldViolation(
                            f"managed_service.spec.{field}",
                            "cannot change: create a new service, move the data, then delete this one",
                        )
                        for field in changed
                    ]
                )
        return await self._methods.update(request)

    async def DeleteManagedService(
        self, request: managed_service_pb2.DeleteManagedServiceRequest, context: Any
    ) -> managed_service_pb2.ManagedService:
        if not request.force:
            page, _ = await self._claims.list(
                filter_text=f'status.managed_service = "{request.name}"', hide_deleting=True, page_size=100
            )
            if page:
                users = ", ".join(sorted(claim.spec.owner or claim.name for claim in page))
                raise FailedPrecondition(
                    f"{request.name} is used by {users}; remove the dependency first or pass force",
                    reason="RESOURCE_IN_USE",
                    metadata={"resource": request.name},
                )
        return await self._methods.delete(request)

    async def WatchManagedServices(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, managed_service_pb2.WatchManagedServicesResponse):
            yield response


def _check_offered(implementation: str, offered: Collection[str]) -> None:
    """A known implementation this process cannot run is refused before anything is written."""
    if implementation in IMPLEMENTATIONS and implementation not in offered:
        raise FailedPrecondition(unavailable_reason(implementation), reason="IMPLEMENTATION_UNAVAILABLE")


class ServiceClaimServicer(service_claim_pb2_grpc.ServiceClaimServiceServicer):
    def __init__(
        self, methods: StandardMethods[service_claim_pb2.ServiceClaim], offered: Collection[str], planner: ClaimPlanner
    ):
        self._methods = methods
        self._offered = offered
        self._planner = planner

    async def CreateServiceClaim(self, request: Any, context: Any) -> service_claim_pb2.ServiceClaim:
        # No ServiceClass chose an implementation: the system default is the in-cluster one.
        if not request.service_claim.spec.implementation:
            request.service_claim.spec.implementation = DEFAULT_IMPLEMENTATION
        _check_offered(request.service_claim.spec.implementation, self._offered)
        return await self._methods.create(request)

    async def GetServiceClaim(self, request: Any, context: Any) -> service_claim_pb2.ServiceClaim:
        return await self._methods.get(request)

    async def ListServiceClaims(self, request: Any, context: Any) -> Any:
        return await self._methods.list(request, service_claim_pb2.ListServiceClaimsResponse)

    async def UpdateServiceClaim(self, request: Any, context: Any) -> service_claim_pb2.ServiceClaim:
        if not request.service_claim.spec.implementation:
            request.service_claim.spec.implementation = DEFAULT_IMPLEMENTATION
        # The request has no allow_missing (claims are created, never applied), so not
        # StandardMethods.update.
        return await self._methods.repository.update(
            request.service_claim,
            list(request.update_mask.paths),
            validate_only=request.validate_only,
            validate=check_claim,
        )

    async def DeleteServiceClaim(self, request: Any, context: Any) -> service_claim_pb2.ServiceClaim:
        return await self._methods.delete(request)

    async def WatchServiceClaims(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, service_claim_pb2.WatchServiceClaimsResponse):
            yield response

    async def PlanServiceClaim(
        self, request: service_claim_pb2.PlanServiceClaimRequest, context: Any
    ) -> service_claim_pb2.PlanServiceClaimResponse:
        return await self._planner.plan(request)


class ClusterInfraServicer(cluster_infra_pb2_grpc.ClusterInfraServiceServicer):
    """The cluster-manager's ``eks`` driver asks for a ClusterInfra, waits for it to be Ready and
    gets a short-lived connection to its API server (``eks.connection``)."""

    def __init__(self, methods: StandardMethods[cluster_infra_pb2.ClusterInfra], directory: AccountDirectory):
        self._methods = methods
        self._directory = directory

    async def CreateClusterInfra(self, request: Any, context: Any) -> cluster_infra_pb2.ClusterInfra:
        return await self._methods.create(request)

    async def GetClusterInfra(self, request: Any, context: Any) -> cluster_infra_pb2.ClusterInfra:
        return await self._methods.get(request)

    async def ListClusterInfras(self, request: Any, context: Any) -> Any:
        return await self._methods.list(request, cluster_infra_pb2.ListClusterInfrasResponse)

    async def DeleteClusterInfra(self, request: Any, context: Any) -> cluster_infra_pb2.ClusterInfra:
        return await self._methods.delete(request)

    async def WatchClusterInfras(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, cluster_infra_pb2.WatchClusterInfrasResponse):
            yield response

    async def GetClusterInfraConnection(
        self, request: cluster_infra_pb2.GetClusterInfraConnectionRequest, context: Any
    ) -> cluster_infra_pb2.ClusterInfraConnection:
        infra = await self._methods.repository.get(request.name)
        account = await self._directory.resolve(infra.spec.account)
        try:
            return await connection_of(infra, account, await self._directory.access(account))
        except AwsError as error:
            raise Unavailable(str(error)) from None


class EventServicer(event_service_pb2_grpc.EventServiceServicer):
    def __init__(self, events: EventLister):
        self._events = events

    async def ListEvents(
        self, request: event_service_pb2.ListEventsRequest, context: Any
    ) -> event_service_pb2.ListEventsResponse:
        return await self._events.respond(request, event_service_pb2.ListEventsResponse)
