"""Where cloud data services live: the VPC and subnets (from ServiceClass parameters for
clusters the platform did not create, else the region's default VPC) and a security group open
on one port only to the allowed networks (default: the VPC's CIDR, where the cluster's nodes
are)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.implementations.aws_common import tag_list
from threeport_infra_provider.implementations.base import PlannedAction, PlannedResource, Refused


def network(ec2: Any, vpc_id: str, subnet_ids: Sequence[str], cidrs: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """The VPC, its subnets and the CIDRs allowed in (blocking; inside ``AwsAccess.call``)."""
    if vpc_id:
        vpcs = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    else:
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise Refused("the region has no default VPC: give vpcId and subnetIds in the ServiceClass parameters")
    vpc = vpcs[0]
    subnets = list(subnet_ids) or [
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    ]
    return str(vpc["VpcId"]), subnets, list(cidrs) or [str(vpc["CidrBlock"])]


def security_group(
    ec2: Any, service: managed_service_pb2.ManagedService, name: str, vpc: str, port: int, cidrs: Sequence[str]
) -> str:
    """The service's security group, found by name (so a retried create finds the first one)."""
    found = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc]}]
    )["SecurityGroups"]
    if found:
        return str(found[0]["GroupId"])
    group = ec2.create_security_group(
        GroupName=name,
        Description=f"threeport {service.name}: {service.spec.type} clients",
        VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(service)}],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": c} for c in cidrs]}
        ],
    )
    return str(group)


def network_plan(
    kinds: tuple[str, str],
    ident: str,
    action: PlannedAction,
    vpc: str,
    chosen: bool,
    subnets: Sequence[str],
    port: int,
    cidrs: Sequence[str],
) -> list[PlannedResource]:
    """The security group and subnet group ``kinds`` of a data service in ``vpc`` (``chosen``:
    named by the ServiceClass, else the region's default VPC), as ``tptctl plan`` shows them."""
    where = vpc if chosen else f"{vpc} (the region's default VPC)"
    return [
        PlannedResource(
            type=kinds[0], id=ident, action=action, description=f"in {where}, tcp {port} open to {', '.join(cidrs)}"
        ),
        PlannedResource(
            type=kinds[1], id=ident, action=action, description=f"in {where}, subnets {', '.join(subnets)}"
        ),
    ]


def moved_vpc(found: str, vpc: str) -> str | None:
    """Why an existing resource in ``found`` cannot follow a change to ``vpc``."""
    if found == vpc:
        return None
    return f"the instance is in {found}, not {vpc}: a new VPC needs a new instance"


def delete_security_groups(ec2: Any, name: str) -> None:
    for group in ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]:
        ec2.delete_security_group(GroupId=group["GroupId"])
