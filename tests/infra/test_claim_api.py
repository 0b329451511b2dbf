"""Bad claims and services are refused with the field and what is allowed, and nothing is
written; a service's identity (type, implementation, where it lives) cannot be changed."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Infra, Moto
from tests.infra.test_accounts import aws_account
from threeport.infra.v1alpha1 import managed_service_pb2, service_claim_pb2
from threeport.sdk import FailedPreconditionError, InvalidArgumentError


def claim_spec(**fields: str) -> service_claim_pb2.ServiceClaim:
    spec = service_claim_pb2.ServiceClaimSpec(owner="projects/acme/deployments/shop-dev", dependency="db")
    for key, value in fields.items():
        setattr(spec, key, value)
    return service_claim_pb2.ServiceClaim(spec=spec)


async def test_bad_claims_name_the_field_and_write_nothing(infra: Infra) -> None:
    claims = infra.delivery.internal.service_claim
    with pytest.raises(InvalidArgumentError) as invalid:
        await claims.create_service_claim(service_claim_id="a", service_claim=claim_spec(
            type="postgres", implementation="aws-s3"))
    (violation,) = invalid.value.field_violations
    assert violation.field == "service_claim.spec.implementation"
    assert "aws-s3 does not provide postgres; use local, aws-rds" in violation.description
    with pytest.raises(InvalidArgumentError) as invalid:
        await claims.create_service_claim(service_claim_id="b", service_claim=claim_spec(
            type="secret", implementation="aws-secretsmanager"))
    assert [v.field for v in invalid.value.field_violations] == ["service_claim.spec.parameters.keys"]
    # This process has no cluster-manager configured, so it cannot run `local` services.
    with pytest.raises(FailedPreconditionError) as unavailable:
        await claims.create_service_claim(service_claim_id="c", service_claim=claim_spec(
            type="redis", implementation="local", cluster="clusters/dev", namespace="shop-dev"))
    assert "THREEPORT_BACKEND_CLUSTERS" in unavailable.value.message
    assert not (await claims.list_service_claims_page()).service_claims


async def test_a_service_keeps_its_identity(infra: Infra, moto: Moto) -> None:
    await infra.operator.account.create_account(account_id="main", account=aws_account(
        moto, key=moto.access_key_id, secret=moto.secret_access_key, default=True))
    wanted = managed_service_pb2.ManagedService(spec=managed_service_pb2.ManagedServiceSpec(
        type="bucket", implementation="aws-s3", account="accounts/main"))
    created = await infra.operator.managed_service.create_managed_service(managed_service_id="assets",
                                                                          managed_service=wanted)
    changed = managed_service_pb2.ManagedService(name=created.name)
    changed.spec.CopyFrom(created.spec)
    changed.spec.type = "postgres"
    changed.spec.implementation = "aws-rds"
    with pytest.raises(InvalidArgumentError) as invalid:
        await infra.operator.managed_service.update_managed_service(managed_service=changed)
    assert {v.field for v in invalid.value.field_violations} == {
        "managed_service.spec.type", "managed_service.spec.implementation"}
    stored = await infra.operator.managed_service.get_managed_service(name=created.name)
    assert stored.spec.type == "bucket"
