"""The cluster's network, one function pair per step: ``ensure_*`` finds the resource by its tags
(the ClusterInfra's uid and the step's role) and creates it only when absent; ``remove_*``
deletes what the tags find and answers True once it is gone.

Layout: one VPC (DNS on, as EKS needs), per zone a public and a private subnet (tagged for
load balancers), an internet gateway, NAT gateways with their Elastic IPs in public subnets (one
per zone for HA, else one in the first zone), a public route table (default route to the
internet gateway) and private ones (default route to the zone's NAT gateway; one for all private
subnets without HA), and the cluster's security group (members talk to each other).
"""

from __future__ import annotations

from typing import Any

from threeport_infra_provider.eks.context import StepContext
from threeport_infra_provider.eks.plan import ROLE_TAG, UID_TAG

LIVE_NAT = ["pending", "available"]


def _one(items: list[dict[str, Any]], key: str) -> str | None:
    return str(items[0][key]) if items else None


def ensure_vpc(ctx: StepContext) -> str:
    found = _one(ctx.ec2.describe_vpcs(Filters=ctx.tag_filters("vpc"))["Vpcs"], "VpcId")
    if found:
        return found
    vpc = str(
        ctx.ec2.create_vpc(CidrBlock=ctx.plan.vpc_cidr, TagSpecifications=ctx.tag_spec("vpc", "vpc"))["Vpc"]["VpcId"]
    )
    ctx.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ctx.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    return vpc


def remove_vpc(ctx: StepContext) -> bool:
    for vpc in ctx.ec2.describe_vpcs(Filters=ctx.tag_filters("vpc"))["Vpcs"]:
        ctx.ec2.delete_vpc(VpcId=vpc["VpcId"])
    return True


def subnet_role(kind: str, zone: str) -> str:
    return f"subnet-{kind}-{zone}"


def ensure_subnet(ctx: StepContext, kind: str, zone: str, cidr: str) -> str:
    role = subnet_role(kind, zone)
    found = _one(ctx.ec2.describe_subnets(Filters=ctx.tag_filters(role))["Subnets"], "SubnetId")
    if found:
        return found
    # The tags load balancer controllers use to pick subnets for public and internal LBs.
    elb = {"kubernetes.io/role/elb": "1"} if kind == "public" else {"kubernetes.io/role/internal-elb": "1"}
    return str(
        ctx.ec2.create_subnet(
            VpcId=ctx.ids["vpc"],
            CidrBlock=cidr,
            AvailabilityZone=zone,
            TagSpecifications=ctx.tag_spec("subnet", role, elb),
        )["Subnet"]["SubnetId"]
    )


def remove_subnet(ctx: StepContext, kind: str, zone: str) -> bool:
    for subnet in ctx.ec2.describe_subnets(Filters=ctx.tag_filters(subnet_role(kind, zone)))["Subnets"]:
        ctx.ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    return True


def ensure_internet_gateway(ctx: StepContext) -> str:
    gateways = ctx.ec2.describe_internet_gateways(Filters=ctx.tag_filters("igw"))["InternetGateways"]
    if gateways:
        gateway = gateways[0]
    else:
        gateway = ctx.ec2.create_internet_gateway(TagSpecifications=ctx.tag_spec("internet-gateway", "igw"))[
            "InternetGateway"
        ]
    if not any(a.get("VpcId") == ctx.ids["vpc"] for a in gateway.get("Attachments", [])):
        ctx.ec2.attach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=ctx.ids["vpc"])
    return str(gateway["InternetGatewayId"])


def remove_internet_gateway(ctx: StepContext) -> bool:
    for gateway in ctx.ec2.describe_internet_gateways(Filters=ctx.tag_filters("igw"))["InternetGateways"]:
        for attachment in gateway.get("Attachments", []):
            ctx.ec2.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=attachment["VpcId"])
        ctx.ec2.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
    return True


def nat_zones(ctx_zones: list[str], high_availability: bool) -> list[str]:
    """Where NAT gateways go: every zone for HA (a zone's outage leaves the others' egress),
    else only the first."""
    return ctx_zones if high_availability else ctx_zones[:1]


def ensure_elastic_ip(ctx: StepContext, zone: str) -> str:
    role = f"nat-eip-{zone}"
    found = _one(ctx.ec2.describe_addresses(Filters=ctx.tag_filters(role))["Addresses"], "AllocationId")
    if found:
        return found
    return str(
        ctx.ec2.allocate_address(Domain="vpc", TagSpecifications=ctx.tag_spec("elastic-ip", role))["AllocationId"]
    )


def remove_elastic_ip(ctx: StepContext, zone: str) -> bool:
    for address in ctx.ec2.describe_addresses(Filters=ctx.tag_filters(f"nat-eip-{zone}"))["Addresses"]:
        ctx.ec2.release_address(AllocationId=address["AllocationId"])
    return True


def _nat_gateways(ctx: StepContext, zone: str, states: list[str]) -> list[dict[str, Any]]:
    filters = [*ctx.tag_filters(f"nat-{zone}"), {"Name": "state", "Values": states}]
    gateways: list[dict[str, Any]] = ctx.ec2.describe_nat_gateways(Filter=filters)["NatGateways"]
    # The tags are checked here too: some AWS-compatible endpoints (moto) ignore tag filters on
    # NAT gateways, and adopting another cluster's gateway would be a leak and a wrong route.
    wanted = {UID_TAG: ctx.plan.uid, ROLE_TAG: f"nat-{zone}"}
    return [g for g in gateways if wanted.items() <= {t["Key"]: t["Value"] for t in g.get("Tags", [])}.items()]


def ensure_nat_gateway(ctx: StepContext, zone: str) -> str:
    found = _one(_nat_gateways(ctx, zone, LIVE_NAT), "NatGatewayId")
    if found:
        return found
    return str(
        ctx.ec2.create_nat_gateway(
            SubnetId=ctx.ids[subnet_role("public", zone)],
            AllocationId=ctx.ids[f"nat-eip-{zone}"],
            ClientToken=f"{ctx.plan.uid}-nat-{zone}"[:64],
            TagSpecifications=ctx.tag_spec("natgateway", f"nat-{zone}"),
        )["NatGateway"]["NatGatewayId"]
    )


def remove_nat_gateway(ctx: StepContext, zone: str) -> bool:
    for gateway in _nat_gateways(ctx, zone, ["available", "failed"]):
        ctx.ec2.delete_nat_gateway(NatGatewayId=gateway["NatGatewayId"])
    # Its Elastic IP can be released only once the gateway is gone.
    return not _nat_gateways(ctx, zone, ["pending", "available", "deleting"])


def ensure_route_table(ctx: StepContext, role: str, subnets: list[str], target: dict[str, str]) -> str:
    """The route table ``role``: a default route to ``target`` (the internet gateway, or a NAT
    gateway), associated with the ``subnets`` (step roles)."""
    tables = ctx.ec2.describe_route_tables(Filters=ctx.tag_filters(role))["RouteTables"]
    table = (
        tables[0]
        if tables
        else ctx.ec2.create_route_table(VpcId=ctx.ids["vpc"], TagSpecifications=ctx.tag_spec("route-table", role))[
            "RouteTable"
        ]
    )
    table_id = str(table["RouteTableId"])
    if not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in table.get("Routes", [])):
        resolved = {key: ctx.ids[step] for key, step in target.items()}
        ctx.ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", **resolved)
    associated = {a.get("SubnetId") for a in table.get("Associations", [])}
    for subnet in (ctx.ids[step] for step in subnets):
        if subnet not in associated:
            ctx.ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet)
    return table_id


def remove_route_table(ctx: StepContext, role: str) -> bool:
    for table in ctx.ec2.describe_route_tables(Filters=ctx.tag_filters(role))["RouteTables"]:
        for association in table.get("Associations", []):
            if not association.get("Main"):
                ctx.ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
        ctx.ec2.delete_route_table(RouteTableId=table["RouteTableId"])
    return True


def ensure_security_group(ctx: StepContext) -> str:
    found = _one(ctx.ec2.describe_security_groups(Filters=ctx.tag_filters("sg-cluster"))["SecurityGroups"], "GroupId")
    if found:
        return found
    group = str(
        ctx.ec2.create_security_group(
            GroupName=ctx.plan.resource("cluster"),
            Description=f"threeport {ctx.plan.infra}: control plane and nodes",
            VpcId=ctx.ids["vpc"],
            TagSpecifications=ctx.tag_spec("security-group", "sg-cluster"),
        )["GroupId"]
    )
    ctx.ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}]
    )
    return group


def remove_security_group(ctx: StepContext) -> bool:
    for group in ctx.ec2.describe_security_groups(Filters=ctx.tag_filters("sg-cluster"))["SecurityGroups"]:
        ctx.ec2.delete_security_group(GroupId=group["GroupId"])
    return True
