"""Builds and tears down a ClusterInfra, step by step, with an inventory.

The steps run in a fixed order (each may need ids of the ones before). Every step is recorded
in the ClusterInfra's inventory before its call (state ``creating``, id = the step's role) and
after it (the AWS id and state); the step itself finds its resource by tags or name before
creating it, so a crash between the two records resumes without a duplicate. Deletion runs the
same steps in reverse, each finding what it made by its tags or name (also what a crash left
recorded as ``creating`` only), and stops at the first that AWS is still deleting.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from threeport.infra.v1alpha1 import cluster_infra_pb2, managed_service_pb2
from threeport_infra_provider.cloud.aws import AwsAccess
from threeport_infra_provider.eks import control_plane, network
from threeport_infra_provider.eks.context import StepContext
from threeport_infra_provider.eks.plan import CLUSTER_POLICIES, NODE_POLICIES, Plan, Zone

CloudResource = managed_service_pb2.CloudResource
Record = Callable[[str, CloudResource], Awaitable[None]]
DEFAULT_NODE_GROUP = cluster_infra_pb2.NodeGroup(
    name="default", instance_type="m6i.large", min_size=1, max_size=3, desired_size=2
)


@dataclass(frozen=True)
class Step:
    role: str  # the key in StepContext.ids and the inventory's placeholder id
    type: str  # the CloudFormation-style type shown in the inventory
    ensure: Callable[[StepContext], str | None]
    remove: Callable[[StepContext], bool]


@dataclass
class Built:
    ready: bool
    message: str
    endpoint: str = ""
    certificate_authority_data: bytes = b""
    oidc_issuer: str = ""
    oidc_provider_arn: str = ""
    inventory: list[CloudResource] = field(default_factory=list)


def steps(plan: Plan, zones: list[Zone]) -> list[Step]:
    return _network_steps(plan, zones) + _control_plane_steps(plan)


def _network_steps(plan: Plan, zones: list[Zone]) -> list[Step]:
    found: list[Step] = [Step("vpc", "AWS::EC2::VPC", network.ensure_vpc, network.remove_vpc)]
    for kind in ("public", "private"):
        for zone in zones:
            cidr = zone.public_cidr if kind == "public" else zone.private_cidr
            found.append(
                Step(
                    network.subnet_role(kind, zone.name),
                    "AWS::EC2::Subnet",
                    partial(network.ensure_subnet, kind=kind, zone=zone.name, cidr=cidr),
                    partial(network.remove_subnet, kind=kind, zone=zone.name),
                )
            )
    found += [
        Step("igw", "AWS::EC2::InternetGateway", network.ensure_internet_gateway, network.remove_internet_gateway),
    ]
    zone_names = [zone.name for zone in zones]
    nats = network.nat_zones(zone_names, plan.zone_count == 3)
    for nat_zone in nats:
        found += [
            Step(
                f"nat-eip-{nat_zone}",
                "AWS::EC2::EIP",
                partial(network.ensure_elastic_ip, zone=nat_zone),
                partial(network.remove_elastic_ip, zone=nat_zone),
            ),
            Step(
                f"nat-{nat_zone}",
                "AWS::EC2::NatGateway",
                partial(network.ensure_nat_gateway, zone=nat_zone),
                partial(network.remove_nat_gateway, zone=nat_zone),
            ),
        ]
    tables = [("rtb-public", [network.subnet_role("public", z) for z in zone_names], {"GatewayId": "igw"})]
    if len(nats) == 1:
        tables.append(
            ("rtb-private", [network.subnet_role("private", z) for z in zone_names], {"NatGatewayId": f"nat-{nats[0]}"})
        )
    else:
        tables += [
            (f"rtb-private-{z}", [network.subnet_role("private", z)], {"NatGatewayId": f"nat-{z}"}) for z in nats
        ]
    for role, subnets, target in tables:
        found.append(
            Step(
                role,
                "AWS::EC2::RouteTable",
                partial(network.ensure_route_table, role=role, subnets=subnets, target=target),
                partial(network.remove_route_table, role=role),
            )
        )
    found.append(
        Step("sg-cluster", "AWS::EC2::SecurityGroup", network.ensure_security_group, network.remove_security_group)
    )
    return found


def _control_plane_steps(plan: Plan) -> list[Step]:
    found = [
        Step(
            "cluster-role",
            "AWS::IAM::Role",
            partial(control_plane.ensure_role, which="cluster", policies=CLUSTER_POLICIES),
            partial(control_plane.remove_role, which="cluster"),
        ),
        Step(
            "node-role",
            "AWS::IAM::Role",
            partial(control_plane.ensure_role, which="node", policies=NODE_POLICIES),
            partial(control_plane.remove_role, which="node"),
        ),
        Step("cluster", "AWS::EKS::Cluster", control_plane.ensure_cluster, control_plane.remove_cluster),
    ]
    for group in plan.node_groups or (DEFAULT_NODE_GROUP,):
        found.append(
            Step(
                f"ng-{group.name}",
                "AWS::EKS::Nodegroup",
                partial(control_plane.ensure_node_group, group=group),
                partial(control_plane.remove_node_group, group=group),
            )
        )
    found.append(
        Step("oidc", "AWS::IAM::OIDCProvider", control_plane.ensure_oidc_provider, control_plane.remove_oidc_provider)
    )
    return found


class EksBuilder:
    """Runs the steps of one ClusterInfra in one account and region."""

    def __init__(self, access: AwsAccess, plan: Plan):
        self._access = access
        self._plan = plan

    async def _context(self) -> StepContext:
        region = self._plan.region
        access = self._access

        def zones() -> list[str]:
            listed = access.client("ec2", region).describe_availability_zones(
                Filters=[{"Name": "state", "Values": ["available"]}]
            )["AvailabilityZones"]
            return [str(z["ZoneName"]) for z in listed]

        available = await access.call(f"listing the availability zones of {region}", zones)
        return StepContext(
            plan=self._plan,
            zones=self._plan.zones(available),
            ec2=access.client("ec2", region),
            iam=access.client("iam", region),
            eks=access.client("eks", region),
        )

    async def build(self, record: Record) -> Built:
        ctx = await self._context()
        region = self._plan.region
        inventory: list[CloudResource] = []
        for step in steps(self._plan, ctx.zones):
            await record(step.role, CloudResource(type=step.type, id=step.role, region=region, state="creating"))
            found = await self._access.call(f"creating {step.type} {step.role}", partial(step.ensure, ctx))
            if found is None:
                await record(step.role, CloudResource(type=step.type, id=step.role, region=region, state="creating"))
                return Built(False, f"waiting for AWS to finish {step.type} {step.role}", inventory=inventory)
            ctx.ids[step.role] = found
            entry = CloudResource(type=step.type, id=found, region=region, state="available")
            await record(step.role, entry)
            inventory.append(entry)
        cluster = await self._access.call("describing the EKS cluster", partial(control_plane.describe_cluster, ctx))
        assert cluster is not None  # the cluster step answered its ARN: it exists
        return Built(
            True,
            f"EKS cluster {self._plan.name} is ACTIVE in {region} ({len(ctx.zones)} zones)",
            endpoint=str(cluster.get("endpoint", "")),
            certificate_authority_data=_ca(cluster),
            oidc_issuer=str(cluster.get("identity", {}).get("oidc", {}).get("issuer", "")),
            oidc_provider_arn=ctx.ids["oidc"],
            inventory=inventory,
        )

    async def teardown(self) -> str | None:
        """Deletes in reverse order; None once everything is gone, else what is being waited for."""
        ctx = await self._context()
        for step in reversed(steps(self._plan, ctx.zones)):
            gone = await self._access.call(f"deleting {step.type} {step.role}", partial(step.remove, ctx))
            if not gone:
                return f"waiting for AWS to delete {step.type} {step.role}"
        return None


def _ca(cluster: dict[str, Any]) -> bytes:
    """The PEM CA bundle EKS gives base64-encoded."""
    data = str(cluster.get("certificateAuthority", {}).get("data", ""))
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return data.encode()
