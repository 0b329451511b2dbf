"""IAM roles, the EKS cluster, its managed node groups and its OIDC provider, each found by its
deterministic name before it is created (EKS creates also carry a client request token).

``ensure_*`` answers the resource's id, or None while AWS is still building something the next
step needs (the cluster must be ACTIVE before node groups and the OIDC provider);
``remove_*`` answers True once the resource is gone.
"""

from __future__ import annotations

import json
from typing import Any

from threeport.infra.v1alpha1 import cluster_infra_pb2
from threeport_infra_provider.eks.context import StepContext
from threeport_infra_provider.eks.network import subnet_role

TRUST = {
    "cluster": "eks.amazonaws.com",
    "node": "ec2.amazonaws.com",
}
# The root CA thumbprint of the EKS OIDC issuers (AWS no longer checks it for them, but the
# API asks for one).
OIDC_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def role_name(ctx: StepContext, which: str) -> str:
    return ctx.plan.resource(f"{which}-role")


def ensure_role(ctx: StepContext, which: str, policies: tuple[str, ...]) -> str:
    name = role_name(ctx, which)
    try:
        arn = str(ctx.iam.get_role(RoleName=name)["Role"]["Arn"])
    except ctx.iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": TRUST[which]}, "Action": "sts:AssumeRole"}],
        }
        arn = str(
            ctx.iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=f"threeport {ctx.plan.infra}: {which}",
                Tags=ctx.plan.tag_list(f"{which}-role"),
            )["Role"]["Arn"]
        )
    attached = {p["PolicyArn"] for p in ctx.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
    for policy in policies:
        if policy not in attached:
            ctx.iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    return arn


def remove_role(ctx: StepContext, which: str) -> bool:
    name = role_name(ctx, which)
    try:
        attached = ctx.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    except ctx.iam.exceptions.NoSuchEntityException:
        return True
    for policy in attached:
        ctx.iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    ctx.iam.delete_role(RoleName=name)
    return True


def ensure_cluster(ctx: StepContext) -> str | None:
    plan = ctx.plan
    try:
        cluster = ctx.eks.describe_cluster(name=plan.name)["cluster"]
    except ctx.eks.exceptions.ResourceNotFoundException:
        subnets = [ctx.ids[subnet_role(kind, z.name)] for kind in ("private", "public") for z in ctx.zones]
        cluster = ctx.eks.create_cluster(
            name=plan.name,
            version=plan.version,
            roleArn=ctx.ids["cluster-role"],
            resourcesVpcConfig={
                "subnetIds": subnets,
                "securityGroupIds": [ctx.ids["sg-cluster"]],
                "endpointPublicAccess": True,
                "endpointPrivateAccess": True,
            },
            clientRequestToken=plan.request_token,
            tags=plan.tags("cluster"),
        )["cluster"]
    if cluster["status"] == "FAILED":
        raise RuntimeError(f"EKS reports cluster {plan.name} FAILED")
    return str(cluster["arn"]) if cluster["status"] == "ACTIVE" else None


def describe_cluster(ctx: StepContext) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = ctx.eks.describe_cluster(name=ctx.plan.name)["cluster"]
    except ctx.eks.exceptions.ResourceNotFoundException:
        return None
    return found


def remove_cluster(ctx: StepContext) -> bool:
    cluster = describe_cluster(ctx)
    if cluster is None:
        return True
    if cluster["status"] != "DELETING":
        ctx.eks.delete_cluster(name=ctx.plan.name)
    return describe_cluster(ctx) is None


def node_group_name(ctx: StepContext, group: cluster_infra_pb2.NodeGroup) -> str:
    return ctx.plan.resource(f"ng-{group.name}")


def ensure_node_group(ctx: StepContext, group: cluster_infra_pb2.NodeGroup) -> str | None:
    name = node_group_name(ctx, group)
    try:
        found = ctx.eks.describe_nodegroup(clusterName=ctx.plan.name, nodegroupName=name)["nodegroup"]
    except ctx.eks.exceptions.ResourceNotFoundException:
        found = ctx.eks.create_nodegroup(
            clusterName=ctx.plan.name,
            nodegroupName=name,
            scalingConfig={"minSize": group.min_size, "maxSize": group.max_size, "desiredSize": group.desired_size},
            instanceTypes=[group.instance_type],
            subnets=[ctx.ids[subnet_role("private", z.name)] for z in ctx.zones],
            nodeRole=ctx.ids["node-role"],
            clientRequestToken=f"{ctx.plan.uid}-{group.name}"[:64],
            tags=ctx.plan.tags(f"ng-{group.name}"),
        )["nodegroup"]
    if found["status"] in ("CREATE_FAILED", "DEGRADED"):
        raise RuntimeError(f"EKS reports node group {name} {found['status']}")
    return str(found["nodegroupArn"]) if found["status"] == "ACTIVE" else None


def remove_node_group(ctx: StepContext, group: cluster_infra_pb2.NodeGroup) -> bool:
    name = node_group_name(ctx, group)
    try:
        found = ctx.eks.describe_nodegroup(clusterName=ctx.plan.name, nodegroupName=name)["nodegroup"]
    except ctx.eks.exceptions.ResourceNotFoundException:
        return True
    if found["status"] != "DELETING":
        ctx.eks.delete_nodegroup(clusterName=ctx.plan.name, nodegroupName=name)
    try:
        ctx.eks.describe_nodegroup(clusterName=ctx.plan.name, nodegroupName=name)
    except ctx.eks.exceptions.ResourceNotFoundException:
        return True
    return False


def oidc_provider_arn(ctx: StepContext, issuer: str) -> str:
    account = ctx.ids["cluster"].split(":")[4]
    return f"arn:aws:iam::{account}:oidc-provider/{issuer.removeprefix('https://')}"


def ensure_oidc_provider(ctx: StepContext) -> str:
    cluster = describe_cluster(ctx)
    issuer = str((cluster or {}).get("identity", {}).get("oidc", {}).get("issuer", ""))
    arn = oidc_provider_arn(ctx, issuer)
    try:
        ctx.iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except ctx.iam.exceptions.NoSuchEntityException:
        arn = str(
            ctx.iam.create_open_id_connect_provider(
                Url=issuer,
                ClientIDList=["sts.amazonaws.com"],
                ThumbprintList=[OIDC_THUMBPRINT],
                Tags=ctx.plan.tag_list("oidc"),
            )["OpenIDConnectProviderArn"]
        )
    return arn


def remove_oidc_provider(ctx: StepContext) -> bool:
    for entry in ctx.iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        arn = entry["Arn"]
        tags = ctx.iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]
        if any(t["Key"] == "threeport.io/uid" and t["Value"] == ctx.plan.uid for t in tags):
            ctx.iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    return True
