"""``aws-s3`` (bucket): private (all public access blocked), encrypted (SSE-S3), versioned when
``parameters.versioned`` is true. Outputs: name, region, endpoint."""

from __future__ import annotations

from typing import Any

from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.cloud.aws import AwsError
from threeport_infra_provider.domain import outputs
from threeport_infra_provider.domain.services import parameters
from threeport_infra_provider.implementations.aws_common import AwsBase, failed, resource_name, tags
from threeport_infra_provider.implementations.base import CloudResource, Converged, Inventory

BUCKET = "AWS::S3::Bucket"
PRIVATE = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
ENCRYPTED = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


class S3Implementation(AwsBase):
    name = "aws-s3"

    async def converge(
        self, service: managed_service_pb2.ManagedService, secrets: dict[str, str], record: Inventory
    ) -> Converged:
        access = await self.access(service)
        region = self.region(service, access)
        bucket = resource_name(service)
        versioned = bool(parameters(service.spec.parameters).get("versioned", False))

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
        try:
            drift = await access.call(f"creating bucket {bucket}", ensure)
        except AwsError as error:
            raise failed(error) from None
        endpoint = access.endpoint_url or f"https://s3.{region}.amazonaws.com"
        return Converged(
            True,
            f"bucket {bucket} in {region}",
            outputs.bucket(name=bucket, region=region, endpoint=endpoint),
            [CloudResource(type=BUCKET, id=bucket, region=region, state="available")],
            drift,
        )

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
            await access.call(f"deleting bucket {bucket}", remove)
        except AwsError as error:
            raise failed(error) from None
        return True
