"""AWS managed services against moto in server mode: claims for postgres (aws-rds), redis
(aws-elasticache), bucket (aws-s3) and secret (aws-secretsmanager) as workload-delivery makes them for a production
deployment; outputs reach the claims (secrets only there); a class change modifies the RDS
instance in place; releasing the claims keeps the retained database and deletes the rest."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.struct_pb2 import Struct

from tests.infra.conftest import REGION, Infra, Moto
from tests.infra.test_accounts import aws_account, plaintext_rows
from threeport.infra.v1alpha1 import service_claim_pb2
from threeport.sdk import NotFoundError
from threeport_runtime.testing import wait_until

OWNER = "projects/acme/deployments/shop-prod"


def claim(dependency: str, type_: str, implementation: str, **params: Any) -> service_claim_pb2.ServiceClaim:
    struct = Struct()
    struct.update(params)
    return service_claim_pb2.ServiceClaim(spec=service_claim_pb2.ServiceClaimSpec(
        owner=OWNER, dependency=dependency, type=type_, implementation=implementation, parameters=struct))


async def ready_claim(infra: Infra, name: str, check: Any = None) -> Any:
    async def probe() -> Any:
        found = await infra.delivery.internal.service_claim.get_service_claim(name=name)
        ok = found.state == 3 and (check is None or check(found))
        return found if ok else None

    try:
        return await wait_until(probe, within=90, what=f"{name} to be Ready")
    except AssertionError:
        # Say where it got stuck: the bound service's conditions.
        found = await infra.delivery.internal.service_claim.get_service_claim(name=name)
        service = await infra.operator.managed_service.get_managed_service(name=found.status.managed_service)
        raise AssertionError(f"{name} not Ready; service: {list(service.conditions)}") from None


async def gone(infra: Infra, name: str) -> None:
    async def probe() -> bool:
        try:
            await infra.delivery.internal.service_claim.get_service_claim(name=name)
        except NotFoundError:
            return True
        return False

    await wait_until(probe, within=60, what=f"{name} to be released")


@pytest.fixture
async def account(infra: Infra, moto: Moto) -> None:
    await infra.operator.account.create_account(account_id="prod", account=aws_account(
        moto, key=moto.access_key_id, secret=moto.secret_access_key, default=True))


async def test_production_services_and_their_release(
    infra: Infra, moto: Moto, account: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    claims = infra.delivery.internal.service_claim
    await claims.create_service_claim(service_claim_id="db", service_claim=claim(
        "db", "postgres", "aws-rds", instanceClass="db.t4g.small", storageGb=20))
    await claims.create_service_claim(service_claim_id="files", service_claim=claim(
        "files", "bucket", "aws-s3", versioned=True))
    await claims.create_service_claim(service_claim_id="keys", service_claim=claim(
        "keys", "secret", "aws-secretsmanager", keys=["api-token"]))
    await claims.create_service_claim(service_claim_id="cache", service_claim=claim(
        "cache", "redis", "aws-elasticache"))
    db = await ready_claim(infra, "serviceClaims/db")
    cache = await ready_claim(infra, "serviceClaims/cache")
    files = await ready_claim(infra, "serviceClaims/files")
    keys = await ready_claim(infra, "serviceClaims/keys")

    rds: Any = moto.client("rds")
    s3: Any = moto.client("s3")
    secretsmanager: Any = moto.client("secretsmanager")
    (instance,) = rds.describe_db_instances()["DBInstances"]
    assert instance["DBInstanceClass"] == "db.t4g.small" and instance["Engine"] == "postgres"
    assert db.status.outputs.values["host"] == instance["Endpoint"]["Address"]
    assert db.status.outputs.values["port"] == "5432"
    password = db.status.outputs.secrets["password"]
    assert db.status.outputs.secrets["url"].startswith(f"postgresql://app:{password}@")
    elasticache: Any = moto.client("elasticache")
    (cluster,) = elasticache.describe_replication_groups()["ReplicationGroups"]
    assert cache.status.outputs.values["host"] == cluster["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
    assert cluster["TransitEncryptionEnabled"] and cluster["AuthTokenEnabled"]
    assert cache.status.outputs.secrets["url"].startswith(f"rediss://:{cache.status.outputs.secrets['password']}@")
    bucket = files.status.outputs.values["name"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    assert files.status.outputs.values["region"] == REGION
    token = keys.status.outputs.secrets["api-token"]
    assert token in secretsmanager.get_secret_value(SecretId=keys.status.outputs.values["arn"])["SecretString"]

    # Public views of the services never carry a secret; the database never has one in plaintext.
    service = await infra.operator.managed_service.get_managed_service(name=db.status.managed_service)
    assert password not in str(service) and service.status.claims == ["serviceClaims/db"]
    for secret in (password, token):
        assert plaintext_rows(infra.database_url, secret) == []
    events = await infra.operator.infra_event.list_events_page(page_size=500)
    for secret in (password, token, moto.secret_access_key):
        assert secret not in str(events)
        leaked = [f"{r.name}: {r.getMessage()[:200]}" for r in caplog.records if secret in r.getMessage()]
        assert not leaked

    # small -> large (the class the consumer's ServiceClass now resolves to): the same
    # instance, modified in place.
    larger = claim("db", "postgres", "aws-rds", instanceClass="db.r6g.large", storageGb=50)
    larger.name = "serviceClaims/db"
    await claims.update_service_claim(service_claim=larger, update_mask=FieldMask(paths=["spec.parameters"]))

    async def modified() -> bool:
        found = rds.describe_db_instances(DBInstanceIdentifier=instance["DBInstanceIdentifier"])["DBInstances"][0]
        return bool(found["DBInstanceClass"] == "db.r6g.large" and found["AllocatedStorage"] == 50)

    await wait_until(modified, within=60, what="the instance to be modified in place")
    assert len(rds.describe_db_instances()["DBInstances"]) == 1

    for name in ("db", "cache", "files", "keys"):
        await claims.delete_service_claim(name=f"serviceClaims/{name}")
    for name in ("db", "cache", "files", "keys"):
        await gone(infra, f"serviceClaims/{name}")

    async def released() -> bool:
        # moto keeps a deleted replication group in "deleting" for ever (AWS removes it; the
        # provider waits for that before the subnet and security groups), so "deleting" is the end here.
        caches = elasticache.describe_replication_groups()["ReplicationGroups"]
        return (not s3.list_buckets()["Buckets"] and not secretsmanager.list_secrets()["SecretList"]
                and all(c["Status"] == "deleting" for c in caches))

    await wait_until(released, within=60, what="the cache, the bucket and the secret to be deleted")
    # The production database is retained (the default for cloud databases), with its service.
    assert len(rds.describe_db_instances()["DBInstances"]) == 1
    kept = await infra.operator.managed_service.get_managed_service(name=db.status.managed_service)
    assert list(kept.status.claims) == []


@pytest.fixture
def fast_drift_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # This test is about the periodic check, so it shortens its interval (default 300 s).
    monkeypatch.setenv("THREEPORT_INFRA_DRIFT_CHECK_SECONDS", "1")


async def test_periodic_check_reports_and_repairs_drift(
    fast_drift_check: None, infra: Infra, moto: Moto, account: None
) -> None:
    claims = infra.delivery.internal.service_claim
    await claims.create_service_claim(service_claim_id="files", service_claim=claim(
        "files", "bucket", "aws-s3", versioned=True))
    files = await ready_claim(infra, "serviceClaims/files")
    bucket = files.status.outputs.values["name"]
    s3: Any = moto.client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})

    async def reported() -> bool:
        page = await infra.operator.infra_event.list_events_page(parent=files.status.managed_service, page_size=100)
        return any(e.reason == "Drift" and "versioning was Suspended" in e.message for e in page.events)

    await wait_until(reported, within=30, what="a Drift event")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


async def test_a_shared_service_goes_after_its_last_claim(infra: Infra, moto: Moto, account: None) -> None:
    claims = infra.delivery.internal.service_claim
    for owner in ("a", "b"):
        shared = claim("files", "bucket", "aws-s3", instance="team-files")
        shared.spec.owner = f"projects/acme/deployments/{owner}"
        await claims.create_service_claim(service_claim_id=f"files-{owner}", service_claim=shared)
    first = await ready_claim(infra, "serviceClaims/files-a")
    second = await ready_claim(infra, "serviceClaims/files-b")
    assert first.status.managed_service == second.status.managed_service == "managedServices/team-files"
    s3: Any = moto.client("s3")
    bucket = first.status.outputs.values["name"]

    await claims.delete_service_claim(name="serviceClaims/files-a")
    await gone(infra, "serviceClaims/files-a")
    service = await infra.operator.managed_service.get_managed_service(name="managedServices/team-files")
    assert list(service.status.claims) == ["serviceClaims/files-b"]
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    await claims.delete_service_claim(name="serviceClaims/files-b")
    await gone(infra, "serviceClaims/files-b")

    async def bucket_gone() -> bool:
        return bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    await wait_until(bucket_gone, within=60, what="the shared bucket to go with its last claim")
