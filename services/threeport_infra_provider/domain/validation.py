"""Validators run by StandardMethods on the final message before any write."""

from __future__ import annotations

from threeport.infra.v1alpha1 import managed_service_pb2, service_claim_pb2
from threeport_infra_provider.domain.services import parameters, spec_violations
from threeport_runtime.errors import FieldViolation, InvalidArgument


def check_claim(claim: service_claim_pb2.ServiceClaim) -> None:
    spec = claim.spec
    found = spec_violations(
        "service_claim.spec",
        type_=spec.type,
        implementation=spec.implementation,
        account=spec.account,
        cluster=spec.cluster,
        namespace=spec.namespace,
        params=parameters(spec.parameters),
    )
    if not spec.owner:
        found.append(
            FieldViolation("service_claim.spec.owner", "the consumer's name, e.g. projects/acme/deployments/x")
        )
    if not spec.dependency:
        found.append(FieldViolation("service_claim.spec.dependency", "the dependency's name in the application"))
    if found:
        raise InvalidArgument.for_fields(found)


def check_managed_service(service: managed_service_pb2.ManagedService) -> None:
    spec = service.spec
    found = spec_violations(
        "managed_service.spec",
        type_=spec.type,
        implementation=spec.implementation,
        account=spec.account,
        cluster=spec.cluster,
        namespace=spec.namespace,
        params=parameters(spec.parameters),
    )
    if found:
        raise InvalidArgument.for_fields(found)
