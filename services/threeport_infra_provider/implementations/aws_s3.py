"""``aws-s3`` (bucket): private (all public access blocked), encrypted (SSE-S3), versioned when
``parameters.versioned`` is true; on an EKS cluster the platform built, an IAM role for the
consumer's service accounts (``aws_workload_identity``). Outputs: name, region, endpoint, and
role_arn when there is a role."""

from __future__ import annotations

from typing import Any

from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.cloud.aws import AwsError
from threeport_infra_provider.domain import outputs
from threeport_infra_provider.domain.services import parameters
from threeport_infra_provider.implementations import aws_workload_identity as identity
from threeport_infra_provider.implementations.aws_common import AwsBase, failed, resource_name, tags
from threeport_infra_provider.implementations.aws_workload_identity import cluster_oidc
from threeport_infra_provider.implementations.base import (
    CREATE,
    MODIFY,
    UNCHANGED,
    CloudResource,
    Converged,
    Inventory,
    PlannedResource,
)
from threeport_infra_provider.store.repositories import ClusterInfras

BUCKET = "AWS::S3::Bucket"
PRIVATE = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
ENCRYPTED = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


class S3Implementation(AwsBase):
    name = "aws-s3"

    def __init__(self, directory: AccountDirectory, infras: ClusterInfras | None = None):
        super().__init__(directory)
        # Where the consumer's cluster's OIDC provider is found (its ClusterInfra).
        self._infras = infras

    async def converge(
        self, service: managed_service_pb2.ManagedService, secrets: dict[str, str], record: Inventory
    ) -> Converged:
        access = await self.access(service)
        region = self.region(service, access)
        bucket = resource_name(service)
        versioned = versioned_of(service)

        def ensure() -> list[str]:
            s3 = access.client("s3", region)
            drift: list[str] = []
            try:
                s3.head_bucket(Bucket=bucket)
            except s3.exceptions.ClientError:
                location = (
                    {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                )
                s3.create_bucket(Bucket=bucket, **location)
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PRIVATE)
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ENCRYPTED)
            s3.put_bucket_tagging(
                Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags(service).items()]}
            )
            status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "")
            if versioned and status != "Enabled":
                if status:
                    drift.append(f"versioning was {status}, enabled again")
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            elif not versioned and status == "Enabled":
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
            return drift

        await record(CloudResource(type=BUCKET, id=bucket, region=region, state="creating"))
        oidc = await cluster_oidc(self._infras, service.spec.cluster)
        inventory = [CloudResource(type=BUCKET, id=bucket, region=region, state="available")]
        role_arn = ""
        try:
            drift = await access.call(f"creating bucket {bucket}", ensure)
            if oidc is not None:
                await record(CloudResource(type=identity.ROLE, id=identity.role_name(service), state="creating"))
                role_arn = await access.call(
                    f"creating the workload role of {bucket}",
                    lambda: identity.ensure_role(access.client("iam", region), service, bucket, oidc),
                )
                inventory.append(CloudResource(type=identity.ROLE, id=identity.role_name(service), state="available"))
        except AwsError as error:
            raise failed(error) from None
        endpoint = access.endpoint_url or f"https://s3.{region}.amazonaws.com"
        return Converged(
            True,
            f"bucket {bucket} in {region}"
            + (f", workloads of {service.spec.namespace} assume {role_arn}" if role_arn else ""),
            outputs.bucket(name=bucket, region=region, endpoint=endpoint, role_arn=role_arn),
            inventory,
            drift,
        )

    async def plan(
        self, service: managed_service_pb2.ManagedService, *, current: managed_service_pb2.ManagedService | None
    ) -> list[PlannedResource]:
        access = await self.access(service)
        region = self.region(service, access)
        bucket = resource_name(service)
        versioned = versioned_of(service)

        def versioning() -> str | None:
            """The bucket's versioning status ("" if never set); None when it does not exist."""
            s3 = access.client("s3", region)
            if current is None:  # no uid yet, so no bucket of that name
                return None
            try:
                s3.head_bucket(Bucket=bucket)
            except s3.exceptions.ClientError:
                return None
            return str(s3.get_bucket_versioning(Bucket=bucket).get("Status", ""))

        try:
            status = await access.call(f"reading bucket {bucket}", versioning)
        except AwsError as error:
            raise failed(error) from None
        what = f"S3 bucket in {region}, private (public access blocked), SSE-S3 encrypted, " + (
            "versioned" if versioned else "not versioned"
        )
        if status is None:
            action = CREATE
        elif versioned != (status == "Enabled"):
            action, what = MODIFY, f"versioning {'enabled' if versioned else 'suspended'}"
        else:
            action = UNCHANGED
        planned = [PlannedResource(type=BUCKET, id=bucket, action=action, description=what)]
        oidc = await cluster_oidc(self._infras, service.spec.cluster)
        if oidc is not None:
            planned.append(PlannedResource(
                type=identity.ROLE,
                id=identity.role_name(service),
                action=CREATE if status is None else UNCHANGED,
                description=f"workload identity: service accounts of namespace {service.spec.namespace} assume it "
                f"through {oidc.provider_arn}; read/write on this bucket only",
            ))
        return planned

    async def delete(self, service: managed_service_pb2.ManagedService, *, retain: bool) -> bool:
        # An operator deletes a retained service on purpose: nothing of it is kept.
        access = await self.access(service)
        region = self.region(service, access)
        bucket = resource_name(service)

        def remove() -> None:
            s3 = access.client("s3", region)
            try:
                s3.head_bucket(Bucket=bucket)
            except s3.exceptions.ClientError:
                return
            versions: Any = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
            for page in versions:
                doomed = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if doomed:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})
            s3.delete_bucket(Bucket=bucket)

        try:
            await access.call(
                f"deleting the workload role of {bucket}",
                lambda: identity.delete_role(access.client("iam", region), service),
            )
            await access.call(f"deleting bucket {bucket}", remove)
        except AwsError as error:
            raise failed(error) from None
        return True


def versioned_of(service: managed_service_pb2.ManagedService) -> bool:
    return bool(parameters(service.spec.parameters).get("versioned", False))
