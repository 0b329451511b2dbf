"""Workload identity for a bucket (IAM roles for service accounts): on a cluster the platform
built on EKS, the bucket gets an IAM role that the cluster's OIDC provider lets the service
accounts of the consumer's namespace assume (``sts:AssumeRoleWithWebIdentity``, audience
``sts.amazonaws.com``), with an inline policy on that bucket only. Workload-delivery puts the
role's ARN on the consumer's ServiceAccounts (``eks.amazonaws.com/role-arn``) and EKS's pod
identity webhook does the rest.

Clusters without a ClusterInfra (attached, sim) have no OIDC provider the platform knows: no
role is made and the bucket has no ``role_arn`` output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.implementations.aws_common import resource_name, tag_list
from threeport_infra_provider.store.repositories import ClusterInfras

ROLE = "AWS::IAM::Role"
POLICY_NAME = "bucket-access"


@dataclass(frozen=True)
class ClusterOidc:
    issuer: str  # https://oidc.eks.{region}.amazonaws.com/id/...
    provider_arn: str


async def cluster_oidc(infras: ClusterInfras | None, cluster: str) -> ClusterOidc | None:
    """The OIDC provider of ``cluster`` (``clusters/{id}``), once its ClusterInfra built it."""
    if infras is None or not cluster:
        return None
    page, _ = await infras.list(filter_text=f'spec.cluster = "{cluster}"', hide_deleting=True, page_size=1)
    if not page or not page[0].status.oidc_provider_arn:
        return None
    return ClusterOidc(page[0].status.oidc_issuer, page[0].status.oidc_provider_arn)


def role_name(service: managed_service_pb2.ManagedService) -> str:
    return f"{resource_name(service, 59)}-s3"


def trust_policy(oidc: ClusterOidc, namespace: str) -> dict[str, Any]:
    host = oidc.issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc.provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{host}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{host}:sub": f"system:serviceaccount:{namespace}:*"},
                },
            }
        ],
    }


def bucket_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ],
    }


def ensure_role(iam: Any, service: managed_service_pb2.ManagedService, bucket: str, oidc: ClusterOidc) -> str:
    """The role, found by name before it is created; its trust and policy brought up to date
    (blocking; inside ``AwsAccess.call``)."""
    name = role_name(service)
    trust = json.dumps(trust_policy(oidc, service.spec.namespace))
    try:
        arn = str(iam.get_role(RoleName=name)["Role"]["Arn"])
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
    except iam.exceptions.NoSuchEntityException:
        arn = str(
            iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=trust,
                Description=f"threeport {service.name}: workloads of {service.spec.namespace} use the bucket",
                Tags=tag_list(service),
            )["Role"]["Arn"]
        )
    iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(bucket_policy(bucket)))
    return arn


def delete_role(iam: Any, service: managed_service_pb2.ManagedService) -> None:
    name = role_name(service)
    try:
        policies = iam.list_role_policies(RoleName=name)["PolicyNames"]
    except iam.exceptions.NoSuchEntityException:
        return
    for policy in policies:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)
