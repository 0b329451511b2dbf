"""PlanServiceClaim: what a claim would create or change, changing nothing (``tptctl plan``).

The managed service is the one the claim reconciler would bind (``instance_id``) and create
(``service_for``), or follow to the new spec (``followed``); each implementation's ``plan``
then reads what exists (AWS describes, no creates) with the same names, sizes and network its
``converge`` uses. A claim whose cluster is not chosen yet (empty) is planned for "the cluster
the deployment is placed on".
"""

from __future__ import annotations

from collections.abc import Mapping

from threeport.infra.v1alpha1 import managed_service_pb2, service_claim_pb2
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.domain.services import DEFAULT_IMPLEMENTATION, RETAIN, effective_retain_policy
from threeport_infra_provider.domain.validation import claim_violations
from threeport_infra_provider.implementations.base import Implementation, ImplementationError, Refused
from threeport_infra_provider.implementations.registry import unavailable_reason
from threeport_infra_provider.reconcilers.claim import account_and_region, followed, instance_id, service_for
from threeport_infra_provider.store.repositories import Claims, ManagedServices
from threeport_runtime.errors import FailedPrecondition, InvalidArgument

# What a planned service's uid-derived names show in place of the uid it does not have yet.
PENDING_UID = "<uid>"


class ClaimPlanner:
    def __init__(
        self,
        claims: Claims,
        services: ManagedServices,
        directory: AccountDirectory,
        offered: Mapping[str, Implementation],
    ):
        self._claims = claims
        self._services = services
        self._directory = directory
        self._offered = offered

    async def plan(
        self, request: service_claim_pb2.PlanServiceClaimRequest
    ) -> service_claim_pb2.PlanServiceClaimResponse:
        claim = service_claim_pb2.ServiceClaim(spec=request.spec)
        if not claim.spec.implementation:
            claim.spec.implementation = DEFAULT_IMPLEMENTATION
        # The cluster of a deployment not placed yet is unknown; everything else must be valid.
        violations = [
            v for v in claim_violations(claim.spec, "spec") if claim.spec.cluster or v.field != "spec.cluster"
        ]
        if violations:
            raise InvalidArgument.for_fields(violations)
        existing = await self._claims.get(request.name) if request.name else None
        if existing is not None:
            claim.name, claim.uid = existing.name, existing.uid
        response = service_claim_pb2.PlanServiceClaimResponse(implementation=claim.spec.implementation)
        implementation = self._offered.get(claim.spec.implementation)
        if implementation is None:
            response.problem = unavailable_reason(claim.spec.implementation)
            return response
        try:
            service, current = await self._service(claim, existing)
        except FailedPrecondition as error:
            response.problem = str(error)
            return response
        response.managed_service = service.name
        spec = service.spec
        if (spec.implementation, spec.type) != (claim.spec.implementation, claim.spec.type):
            # The claim reconciler keeps a claim bound where it is (it never moves data).
            response.problem = (
                f"{service.name} is a {spec.type} from {spec.implementation}; it would stay so: another type or "
                "implementation needs a new dependency name (then migrate the data)"
            )
            return response
        response.retain = effective_retain_policy(spec.retain_policy, spec.type, spec.implementation) == RETAIN
        try:
            response.resources.extend(await implementation.plan(service, current=current))
        except (Refused, ImplementationError, FailedPrecondition) as error:
            response.problem = str(error)
        return response

    async def _service(
        self, claim: service_claim_pb2.ServiceClaim, existing: service_claim_pb2.ServiceClaim | None
    ) -> tuple[managed_service_pb2.ManagedService, managed_service_pb2.ManagedService | None]:
        """The service as it would be — the one the claim is bound to following the new spec, the
        shared one it names, or the one it would get — and as it is now (None: not yet)."""
        bound = existing.status.managed_service if existing is not None else ""
        found = await self._services.find(bound or f"managedServices/{instance_id(claim)}")
        if found is not None and not found.HasField("delete_time"):
            wanted = managed_service_pb2.ManagedService()
            wanted.CopyFrom(found)
            if (changed := followed(claim, found)) is not None:
                wanted.spec.CopyFrom(changed.spec)
            return wanted, found
        account, region = await account_and_region(self._directory, claim)
        wanted = service_for(claim, account, region)
        wanted.name, wanted.uid = f"managedServices/{instance_id(claim)}", PENDING_UID
        return wanted, None
