"""domain.workload_identity: a component using a bucket with a workload role gets the role on its
ServiceAccount; other components, and buckets without a role, get nothing."""

from __future__ import annotations

from google.protobuf import json_format

from threeport.delivery.v1alpha1 import release_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain.rendering import DependencyOutputs, RenderInput, render
from threeport_workload_delivery.domain.workload_identity import ROLE_ANNOTATION

ROLE = "arn:aws:iam::123456789012:role/tp-shop-files-1a2b3c4d-s3"


def accounts(role: str) -> dict[str, object]:
    spec = json_format.ParseDict(
        {
            "components": {
                "api": {
                    "image": "r/api:1",
                    "env": {"BUCKET": "${dependencies.files.name}", "LOGS": "${dependencies.logs.name}"},
                },
                "worker": {"image": "r/worker:1", "env": {"LEVEL": "info"}},
            },
            "dependencies": {"files": {"type": "bucket"}, "logs": {"type": "bucket"}},
        },
        application_pb2.ApplicationSpec(),
    )
    files = {"name": "tp-files", "region": "eu-central-1"} | ({"role_arn": role} if role else {})
    found = render(
        RenderInput(
            project="acme",
            deployment="projects/acme/deployments/shop-prod",
            application="shop",
            environment="prod",
            namespace="acme-shop-prod",
            spec=spec,
            images={"api": release_pb2.ImageRef(image="r/api:1"), "worker": release_pb2.ImageRef(image="r/worker:1")},
            dependencies={
                "files": DependencyOutputs("bucket", files),
                "logs": DependencyOutputs("bucket", {"name": "l"}),
            },
        )
    )
    return {o["metadata"]["name"]: o["metadata"] for o in found if o["kind"] == "ServiceAccount"}


def test_the_service_account_of_a_bucket_user_gets_the_bucket_role() -> None:
    found = accounts(ROLE)
    assert found["shop-api"]["annotations"] == {ROLE_ANNOTATION: ROLE}  # type: ignore[index]
    assert "annotations" not in found["shop-worker"]  # type: ignore[operator]


def test_a_bucket_without_a_role_annotates_nothing() -> None:
    assert all("annotations" not in metadata for metadata in accounts("").values())  # type: ignore[operator]
