"""PlanServiceClaim against moto: what each AWS implementation would create for a claim (names,
sizes, network, retain policy), creating nothing; for an existing claim, what would be modified
in place or refused; bad specs, a missing account and an implementation not offered."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from google.protobuf.struct_pb2 import Struct

from tests.infra.conftest import REGION, Infra, Moto
from tests.infra.test_aws_services import account, claim, gone, ready_claim  # noqa: F401 - fixture
from threeport.common.v1alpha1 import retain_policy_pb2
from threeport.infra.v1alpha1 import managed_service_pb2, service_claim_pb2
from threeport.sdk import InvalidArgumentError
from threeport_infra_provider.implementations.local import LocalImplementation
from threeport_runtime.kube.pool import KubePool
from threeport_runtime.testing import wait_until

CREATE = service_claim_pb2.PLANNED_ACTION_CREATE
MODIFY = service_claim_pb2.PLANNED_ACTION_MODIFY
UNCHANGED = service_claim_pb2.PLANNED_ACTION_UNCHANGED
REFUSED = service_claim_pb2.PLANNED_ACTION_REFUSED


def counts(moto: Moto) -> tuple[int, ...]:
    rds: Any = moto.client("rds")
    elasticache: Any = moto.client("elasticache")
    s3: Any = moto.client("s3")
    secrets: Any = moto.client("secretsmanager")
    ec2: Any = moto.client("ec2")
    return (
        len(rds.describe_db_instances()["DBInstances"]),
        len(rds.describe_db_subnet_groups()["DBSubnetGroups"]),
        len(elasticache.describe_replication_groups()["ReplicationGroups"]),
        len(s3.list_buckets()["Buckets"]),
        len(secrets.list_secrets()["SecretList"]),
        len(ec2.describe_security_groups()["SecurityGroups"]),
    )


def described(response: Any) -> list[tuple[str, str, int, str]]:
    return [(r.type, r.id, r.action, r.description) for r in response.resources]


@pytest.mark.usefixtures("account")
async def test_plan_says_what_each_implementation_would_create(infra: Infra, moto: Moto) -> None:
    plan = infra.delivery.internal.service_claim.plan_service_claim
    ec2: Any = moto.client("ec2")
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    subnets = ", ".join(
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"])
    before = counts(moto)

    db = await plan(spec=claim("db", "postgres", "aws-rds", storageGb=30, engineVersion="16.3").spec)
    assert db.implementation == "aws-rds" and not db.problem
    assert db.managed_service == "managedServices/shop-prod-db-<id>" and db.retain
    ident = "tp-shop-prod-db-<id>-<uid>"
    where = f"in {vpc['VpcId']} (the region's default VPC)"
    assert described(db) == [
        ("AWS::EC2::SecurityGroup", ident, CREATE, f"{where}, tcp 5432 open to {vpc['CidrBlock']}"),
        ("AWS::RDS::DBSubnetGroup", ident, CREATE, f"{where}, subnets {subnets}"),
        ("AWS::RDS::DBInstance", ident, CREATE,
         f"RDS postgres 16.3 db.t4g.micro, 30 GiB encrypted, 7 days of backups, private, database 'app' user 'app', "
         f"in {REGION}"),
    ]

    cache = await plan(spec=claim("cache", "redis", "aws-elasticache", nodeType="cache.r7g.large",
                                  vpcId=vpc["VpcId"], allowedCidrs=["10.1.0.0/16"]).spec)
    assert cache.implementation == "aws-elasticache" and not cache.retain
    group = "tp-shop-prod-cache-<id>-<uid>"
    assert [(r.type, r.id, r.action) for r in cache.resources] == [
        ("AWS::EC2::SecurityGroup", group, CREATE), ("AWS::ElastiCache::SubnetGroup", group, CREATE),
        ("AWS::ElastiCache::ReplicationGroup", group, CREATE)]
    assert cache.resources[0].description == f"in {vpc['VpcId']}, tcp 6379 open to 10.1.0.0/16"
    assert cache.resources[2].description.startswith("ElastiCache redis cache.r7g.large, one node, TLS")

    files = await plan(spec=claim("files", "bucket", "aws-s3", versioned=True).spec)
    assert described(files) == [(
        "AWS::S3::Bucket", "tp-shop-prod-files-<id>-<uid>", CREATE,
        f"S3 bucket in {REGION}, private (public access blocked), SSE-S3 encrypted, versioned")]
    assert not files.retain  # not a cluster: no IAM role (tests/infra/test_eks.py has the EKS one)

    keys = await plan(spec=claim("keys", "secret", "aws-secretsmanager", keys=["api-token", "hmac"]).spec)
    assert described(keys) == [(
        "AWS::SecretsManager::Secret", "threeport/shop-prod-keys-<id>-<uid>", CREATE,
        f"Secrets Manager secret with generated keys api-token, hmac (JSON), in {REGION}")]

    # In-cluster services need the cluster-manager, which this infra-provider was not given.
    local_claim = claim("db", "postgres", "")
    local_claim.spec.namespace = "shop"
    local = await plan(spec=local_claim.spec)
    assert local.implementation == "local" and "THREEPORT_BACKEND_CLUSTERS" in local.problem

    # Nothing was created, in AWS or in the provider.
    assert counts(moto) == before
    assert not (await infra.operator.managed_service.list_managed_services_page()).managed_services
    assert not (await infra.delivery.internal.service_claim.list_service_claims_page()).service_claims


@pytest.mark.usefixtures("account")
async def test_plan_of_an_existing_claim_says_what_changes_in_place_or_is_refused(infra: Infra, moto: Moto) -> None:
    claims = infra.delivery.internal.service_claim
    # Deleted at the end, so that moto (one per session) is left as it was.
    wanted = claim("db", "postgres", "aws-rds", storageGb=20)
    wanted.spec.retain_policy = retain_policy_pb2.RETAIN_POLICY_DELETE
    await claims.create_service_claim(service_claim_id="db", service_claim=wanted)
    db = await ready_claim(infra, "serviceClaims/db")
    service = await infra.operator.managed_service.get_managed_service(name=db.status.managed_service)
    ident = f"tp-{service.name.removeprefix('managedServices/')}-{service.uid.replace('-', '')[:8]}"

    same = await claims.plan_service_claim(name="serviceClaims/db", spec=db.spec)
    assert same.managed_service == service.name
    assert [(r.id, r.action) for r in same.resources][-1] == (ident, UNCHANGED)

    larger = claim("db", "postgres", "aws-rds", storageGb=50, instanceClass="db.r6g.large")
    grown = await claims.plan_service_claim(name="serviceClaims/db", spec=larger.spec)
    assert grown.resources[-1].action == MODIFY
    assert grown.resources[-1].description == (
        "in place: instance class db.t4g.micro → db.r6g.large, storage 20 → 50 GiB")

    smaller = await claims.plan_service_claim(
        name="serviceClaims/db", spec=claim("db", "postgres", "aws-rds", storageGb=10).spec)
    assert smaller.resources[-1].action == REFUSED
    assert "RDS storage cannot shrink" in smaller.resources[-1].description

    moved = await claims.plan_service_claim(
        name="serviceClaims/db", spec=claim("db", "mysql", "aws-rds").spec)
    assert not moved.resources and "new dependency name" in moved.problem, moved
    # Planning changed nothing.
    rds: Any = moto.client("rds")
    found = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
    assert (found["DBInstanceClass"], found["AllocatedStorage"]) == ("db.t4g.micro", 20)
    assert (await infra.operator.managed_service.get_managed_service(name=service.name)).generation == (
        service.generation)

    await claims.delete_service_claim(name="serviceClaims/db")
    await gone(infra, "serviceClaims/db")

    async def deleted() -> bool:
        return ident not in [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]

    await wait_until(deleted, within=60, what=f"{ident} to be deleted")


async def test_plan_refuses_bad_specs_and_says_when_there_is_no_account(infra: Infra, moto: Moto) -> None:
    plan = infra.delivery.internal.service_claim.plan_service_claim
    with pytest.raises(InvalidArgumentError) as refused:
        await plan(spec=claim("db", "nosql", "aws-rds").spec)
    assert "spec.type" in str(refused.value)
    with pytest.raises(InvalidArgumentError) as refused:
        await plan(spec=claim("db", "redis", "aws-rds").spec)
    assert "spec.implementation" in str(refused.value) and "aws-elasticache" in str(refused.value)
    params = Struct()
    params.update({"storageGb": 20})
    spec = service_claim_pb2.ServiceClaimSpec(
        owner="projects/acme/deployments/shop-prod", dependency="db", type="postgres", implementation="aws-rds",
        parameters=params)
    nothing = await plan(spec=spec)
    assert nothing.implementation == "aws-rds" and "account" in nothing.problem and not nothing.resources


async def test_local_plan_names_the_objects_and_what_an_existing_service_would_change() -> None:
    # The local implementation plans from its manifests alone: no cluster is read.
    local = LocalImplementation(cast(KubePool, None))
    service = managed_service_pb2.ManagedService(
        name="managedServices/shop-dev-db-<id>", uid="<uid>",
        spec=managed_service_pb2.ManagedServiceSpec(type="postgres", implementation="local", namespace="acme-shop-dev"))
    service.spec.parameters.update({"storageGb": 2})
    planned = await local.plan(service, current=None)
    ident = "acme-shop-dev/tp-shop-dev-db-<id>"
    assert described(SimpleNamespace(resources=planned)) == [
        ("v1/Secret", ident, CREATE, "generated credentials"),
        ("v1/Service", ident, CREATE, "port 5432"),
        ("apps/v1/StatefulSet", ident, CREATE, "1 replica of postgres:16 in the cluster the deployment is placed on"),
        ("v1/PersistentVolumeClaim", "acme-shop-dev/data-tp-shop-dev-db-<id>-0", CREATE, "2Gi of data"),
    ]
    assert [r.action for r in await local.plan(service, current=service)] == [UNCHANGED] * 4

    newer = managed_service_pb2.ManagedService()
    newer.CopyFrom(service)
    newer.spec.cluster = "clusters/dev"
    newer.spec.parameters.update({"image": "postgres:17"})
    (_, _, image, _) = await local.plan(newer, current=service)
    assert (image.action, image.description) == (MODIFY, "1 replica of postgres:17 in clusters/dev")
    newer.spec.parameters.update({"storageGb": 5})
    (_, _, resized, _) = await local.plan(newer, current=service)
    assert resized.action == REFUSED and "keep storageGb" in resized.description
