"""EKS cluster infrastructure against moto in server mode: a ClusterInfra is built (VPC over two
zones, or three for HA, subnets, gateways, route tables, security group, IAM roles, cluster,
node group, OIDC provider), hands out an EKS token the way ``aws eks get-token`` makes it, and
its deletion leaves nothing in moto; a crash after each creation step resumes without a
duplicate."""

from __future__ import annotations

import base64
import urllib.parse
from typing import Any

import pytest

from tests.infra.conftest import REGION, Infra, Moto
from tests.infra.test_accounts import aws_account
from tests.infra.test_aws_services import claim, gone, ready_claim
from tests.infra.test_crash_resume import Crash
from threeport.common.v1alpha1 import retain_policy_pb2
from threeport.infra.v1alpha1 import account_pb2, cluster_infra_pb2, managed_service_pb2, service_claim_pb2
from threeport.sdk import InvalidArgumentError, NotFoundError
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.eks.builder import EksBuilder
from threeport_infra_provider.eks.plan import plan_of
from threeport_infra_provider.store.repositories import accounts_of
from threeport_infra_provider.store.sealed import SealedSecrets
from threeport_runtime.testing import wait_until


def moto_world(moto: Moto) -> dict[str, set[str]]:
    """Every resource of every type a ClusterInfra makes, by id."""
    ec2: Any = moto.client("ec2")
    iam: Any = moto.client("iam")
    eks: Any = moto.client("eks")
    clusters = eks.list_clusters()["clusters"]
    return {
        "vpcs": {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]},
        "subnets": {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]},
        "internet gateways": {g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]},
        "NAT gateways": {
            g["NatGatewayId"] for g in ec2.describe_nat_gateways()["NatGateways"] if g["State"] != "deleted"
        },
        "Elastic IPs": {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]},
        "route tables": {t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]},
        "security groups": {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]},
        "IAM roles": {r["RoleName"] for r in iam.list_roles()["Roles"]},
        "IAM role policies": {
            f"{r['RoleName']}:{p['PolicyArn']}"
            for r in iam.list_roles()["Roles"]
            for p in iam.list_attached_role_policies(RoleName=r["RoleName"])["AttachedPolicies"]
        },
        "EKS clusters": set(clusters),
        "EKS node groups": {f"{c}/{n}" for c in clusters for n in eks.list_nodegroups(clusterName=c)["nodegroups"]},
        "OIDC providers": {p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]},
    }


def ours(resource: dict[str, Any], uid: str) -> bool:
    return {"Key": "threeport.io/uid", "Value": uid} in resource.get("Tags", [])


def tagged(moto: Moto, uid: str) -> dict[str, int]:
    """How many of each EC2 type carry the ClusterInfra's uid tag."""
    ec2: Any = moto.client("ec2")
    mine = [{"Name": "tag:threeport.io/uid", "Values": [uid]}]
    return {
        "vpcs": len(ec2.describe_vpcs(Filters=mine)["Vpcs"]),
        "subnets": len(ec2.describe_subnets(Filters=mine)["Subnets"]),
        "igws": len(ec2.describe_internet_gateways(Filters=mine)["InternetGateways"]),
        "eips": len(ec2.describe_addresses(Filters=mine)["Addresses"]),
        # moto ignores tag filters on NAT gateways: their tags are checked here.
        "nats": len(
            [g for g in ec2.describe_nat_gateways()["NatGateways"] if g["State"] != "deleted" and ours(g, uid)]
        ),
        "route tables": len(ec2.describe_route_tables(Filters=mine)["RouteTables"]),
        "security groups": len(ec2.describe_security_groups(Filters=mine)["SecurityGroups"]),
    }


async def add_account(infra: Infra, moto: Moto, name: str, gateway: str = "") -> None:
    account = aws_account(moto, key=moto.access_key_id, secret=moto.secret_access_key)
    if gateway:
        account.spec.cluster_api_gateway.CopyFrom(account_pb2.ClusterApiGateway(url=gateway))
    await infra.operator.account.create_account(account_id=name, account=account)


async def delete_and_wait(infras: Any, name: str) -> None:
    """Deletes the ClusterInfra and waits until its teardown is done and it is gone."""
    await infras.delete_cluster_infra(name=name)

    async def deleted() -> bool:
        try:
            await infras.get_cluster_infra(name=name)
        except NotFoundError:
            return True
        return False

    await wait_until(deleted, within=120, what=f"{name} to be deleted")


async def test_eks_cluster_infra_is_built_gives_a_token_and_leaves_nothing(infra: Infra, moto_eks: Moto) -> None:
    moto = moto_eks
    before = moto_world(moto)
    await add_account(infra, moto, "eks-main")
    infras = infra.delivery.internal.cluster_infra
    created = await infras.create_cluster_infra(
        cluster_infra_id="prod-euc1",
        cluster_infra=cluster_infra_pb2.ClusterInfra(
            spec=cluster_infra_pb2.ClusterInfraSpec(
                cluster="clusters/prod-euc1",
                account="accounts/eks-main",
                region=REGION,
                kubernetes_version="1.31",
                high_availability=True,
                node_groups=[
                    cluster_infra_pb2.NodeGroup(
                        name="default", instance_type="m6i.xlarge", min_size=3, max_size=6, desired_size=3
                    )
                ],
            )
        ),
    )
    ready = await infras.wait_ready(created.name, timeout=120)
    status = ready.status
    assert status.endpoint.startswith("https://") and ".eks.amazonaws.com" in status.endpoint
    assert status.oidc_issuer.startswith("https://oidc.eks.")
    assert status.oidc_provider_arn.endswith(status.oidc_issuer.removeprefix("https://"))
    types = [r.type for r in status.inventory]
    # Three zones (HA): a public and a private subnet in each.
    assert types.count("AWS::EC2::Subnet") == 6
    assert all(r.state == "available" for r in status.inventory)
    assert types[0] == "AWS::EC2::VPC" and types[-1] == "AWS::IAM::OIDCProvider"
    # HA: a NAT gateway per zone, and each zone's private subnet routes through its own.
    assert tagged(moto, created.uid) == {
        "vpcs": 1, "subnets": 6, "igws": 1, "eips": 3, "nats": 3, "route tables": 4, "security groups": 1,
    }  # fmt: skip
    ec2: Any = moto.client("ec2")
    mine = [{"Name": "tag:threeport.io/uid", "Values": [created.uid]}]
    zone_of = {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets(Filters=mine)["Subnets"]}
    nat_zone = {
        g["NatGatewayId"]: zone_of[g["SubnetId"]] for g in ec2.describe_nat_gateways(Filter=mine)["NatGateways"]
    }
    for table in ec2.describe_route_tables(Filters=mine)["RouteTables"]:
        nat = [r["NatGatewayId"] for r in table["Routes"] if r.get("NatGatewayId")]
        for association in table["Associations"]:
            if nat:
                assert nat_zone[nat[0]] == zone_of[association["SubnetId"]]
    eks: Any = moto.client("eks")
    cluster = eks.describe_cluster(name=status.eks_cluster_name)["cluster"]
    assert cluster["version"] == "1.31"
    assert len(cluster["resourcesVpcConfig"]["subnetIds"]) == 6
    group = eks.describe_nodegroup(
        clusterName=status.eks_cluster_name, nodegroupName=eks.list_nodegroups(clusterName=status.eks_cluster_name)[
            "nodegroups"][0])["nodegroup"]  # fmt: skip
    assert group["scalingConfig"] == {"minSize": 3, "maxSize": 6, "desiredSize": 3}
    assert group["instanceTypes"] == ["m6i.xlarge"]

    # The token is a presigned STS GetCallerIdentity URL naming the cluster in a signed header.
    connection = await infras.get_cluster_infra_connection(name=created.name)
    assert connection.server == status.endpoint.rstrip("/")
    assert connection.token.startswith("k8s-aws-v1.")
    encoded = connection.token.removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert url.startswith(moto.endpoint) and query["Action"] == ["GetCallerIdentity"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    assert connection.HasField("expire_time")

    await delete_and_wait(infras, created.name)
    assert moto_world(moto) == before


class CrashingInventory:
    """Records like the reconciler, then "crashes" (raises) right after the Nth record."""

    def __init__(self, crash_at: int):
        self.crash_at = crash_at
        self.count = 0
        self.after_create: list[str] = []

    async def __call__(self, role: str, resource: managed_service_pb2.CloudResource) -> None:
        self.count += 1
        if resource.state != "creating":
            self.after_create.append(role)
        if self.count == self.crash_at:
            raise Crash(f"crash at inventory record {self.crash_at}: {role}")


async def test_eks_build_resumes_after_a_crash_after_every_step(infra: Infra, moto_eks: Moto) -> None:
    moto = moto_eks
    before = moto_world(moto)
    await add_account(infra, moto, "eks-crashy")
    runtime = infra.service.runtime
    assert runtime.cipher is not None
    directory = AccountDirectory(accounts_of(runtime), SealedSecrets(runtime.db, runtime.cipher), timeout=10)
    access = await directory.access(await directory.resolve("accounts/eks-crashy"))
    cluster_infra = cluster_infra_pb2.ClusterInfra(
        name="clusterInfras/crashy", uid="5d1e2f70-9a3b-4c6d-8e7f-0a1b2c3d4e5f",
        spec=cluster_infra_pb2.ClusterInfraSpec(account="accounts/eks-crashy", region=REGION),
    )  # fmt: skip
    builder = EksBuilder(access, plan_of(cluster_infra, REGION))

    crashes = 0
    built = None
    for crash_at in range(1, 100):
        record = CrashingInventory(crash_at)
        try:
            built = await builder.build(record)
            break
        except Crash:
            crashes += 1
    assert built is not None and built.ready
    # Two records per step (before and after its call): every step was interrupted after its
    # create, and before it.
    assert crashes == 2 * len(record.after_create)
    assert tagged(moto, cluster_infra.uid) == {
        "vpcs": 1, "subnets": 4, "igws": 1, "eips": 1, "nats": 1, "route tables": 2, "security groups": 1,
    }  # fmt: skip
    eks: Any = moto.client("eks")
    name = plan_of(cluster_infra, REGION).name
    assert [c for c in eks.list_clusters()["clusters"] if c == name] == [name]
    assert len(eks.list_nodegroups(clusterName=name)["nodegroups"]) == 1
    iam: Any = moto.client("iam")
    assert len([r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(name)]) == 2
    assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1

    while await builder.teardown() is not None:
        pass
    assert moto_world(moto) == before


async def test_a_bucket_on_an_eks_cluster_gets_a_role_its_workloads_assume(infra: Infra, moto_eks: Moto) -> None:
    moto = moto_eks
    before = moto_world(moto)
    await add_account(infra, moto, "eks-s3")
    infras = infra.delivery.internal.cluster_infra
    built = await infras.create_cluster_infra(
        cluster_infra_id="files-euc1",
        cluster_infra=cluster_infra_pb2.ClusterInfra(
            spec=cluster_infra_pb2.ClusterInfraSpec(
                cluster="clusters/files-euc1", account="accounts/eks-s3", region=REGION
            )
        ),
    )
    built = await infras.wait_ready(built.name, timeout=120)

    request = claim("files", "bucket", "aws-s3")
    request.spec.account, request.spec.cluster, request.spec.namespace = (
        "accounts/eks-s3", "clusters/files-euc1", "acme-shop-prod",
    )  # fmt: skip
    request.spec.retain_policy = retain_policy_pb2.RETAIN_POLICY_DELETE
    # Plan first: the bucket and the workload role it would make (the cluster has an OIDC provider).
    planned = await infra.delivery.internal.service_claim.plan_service_claim(spec=request.spec)
    assert [(r.type, r.id, r.action) for r in planned.resources] == [
        ("AWS::S3::Bucket", "tp-shop-prod-files-<id>-<uid>", service_claim_pb2.PLANNED_ACTION_CREATE),
        ("AWS::IAM::Role", "tp-shop-prod-files-<id>-<uid>-s3", service_claim_pb2.PLANNED_ACTION_CREATE),
    ]
    assert planned.resources[1].description == (
        f"workload identity: service accounts of namespace acme-shop-prod assume it through "
        f"{built.status.oidc_provider_arn}; read/write on this bucket only")
    await infra.delivery.internal.service_claim.create_service_claim(service_claim_id="files", service_claim=request)
    found = await ready_claim(infra, "serviceClaims/files")
    role_arn = found.status.outputs.values["role_arn"]
    assert "role_arn" not in found.status.outputs.secrets

    iam: Any = moto.client("iam")
    role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    issuer = built.status.oidc_issuer.removeprefix("https://")
    assert statement["Principal"] == {"Federated": built.status.oidc_provider_arn}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringLike"] == {f"{issuer}:sub": "system:serviceaccount:acme-shop-prod:*"}
    assert statement["Condition"]["StringEquals"] == {f"{issuer}:aud": "sts.amazonaws.com"}
    policy = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="bucket-access")["PolicyDocument"]
    bucket = found.status.outputs.values["name"]
    assert {s["Resource"] for s in policy["Statement"]} == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}

    await infra.delivery.internal.service_claim.delete_service_claim(name="serviceClaims/files")
    await gone(infra, "serviceClaims/files")

    async def service_gone() -> bool:
        services = [s async for s in infra.operator.managed_service.list_managed_services()]
        return not services

    await wait_until(service_gone, within=60, what="the bucket service to be deleted")
    await delete_and_wait(infras, built.name)
    assert moto_world(moto) == before


async def test_a_cluster_infra_that_cannot_be_built_is_refused_and_nothing_stored(infra: Infra) -> None:
    bad = cluster_infra_pb2.ClusterInfra(
        spec=cluster_infra_pb2.ClusterInfraSpec(
            cluster="prod", vpc_cidr="10.0.0.0/24",
            node_groups=[cluster_infra_pb2.NodeGroup(name="Default", min_size=3, desired_size=2, max_size=5)],
        )
    )  # fmt: skip
    with pytest.raises(InvalidArgumentError) as refused:
        await infra.delivery.internal.cluster_infra.create_cluster_infra(cluster_infra_id="bad", cluster_infra=bad)
    fields = {v.field for v in refused.value.field_violations}
    assert fields == {
        "cluster_infra.spec.cluster", "cluster_infra.spec.vpc_cidr", "cluster_infra.spec.node_groups[0].name",
        "cluster_infra.spec.node_groups[0].instance_type", "cluster_infra.spec.node_groups[0]",
    }  # fmt: skip
    assert not [i async for i in infra.delivery.internal.cluster_infra.list_cluster_infras()]
