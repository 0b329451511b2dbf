"""domain.logging: an app that declares ``logging`` gets the agent's pod label on its workloads."""

from __future__ import annotations

import kubernetes_validate
from google.protobuf import json_format

from threeport.delivery.v1alpha1 import release_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain.logging import collection_labels
from threeport_workload_delivery.domain.rendering import DependencyOutputs, RenderInput, render


def spec(with_logging: bool) -> application_pb2.ApplicationSpec:
    document: dict[str, object] = {
        "components": {
            "api": {"image": "reg.example.com/api:1", "ports": [{"name": "http", "port": 8080}]},
            "db": {"image": "reg.example.com/db:1", "storage": [{"name": "data", "path": "/data", "size": "1Gi"}]},
        },
    }
    if with_logging:
        document["dependencies"] = {"logs": {"type": "logging"}}
    return json_format.ParseDict(document, application_pb2.ApplicationSpec())


def rendered(app: application_pb2.ApplicationSpec, outputs: dict[str, DependencyOutputs]) -> list[dict[str, object]]:
    return render(RenderInput(
        project="acme", deployment="projects/acme/deployments/ledger-dev", application="ledger", environment="dev",
        namespace="acme-ledger-dev", spec=app, images={"api": release_pb2.ImageRef(image="reg.example.com/api:1")},
        dependencies=outputs))


def pod_labels(objects: list[dict[str, object]]) -> dict[str, dict[str, str]]:
    return {str(o["metadata"]["name"]): o["spec"]["template"]["metadata"]["labels"]  # type: ignore[index]
            for o in objects if o["kind"] in ("Deployment", "StatefulSet")}


def test_an_app_with_logging_labels_every_workloads_pods_for_the_agent() -> None:
    outputs = {"logs": DependencyOutputs("logging", {"endpoint": "http://loki:3100",
                                                     "podLabel": "threeport.io/logs=collect"})}
    objects = rendered(spec(True), outputs)
    labels = pod_labels(objects)
    assert set(labels) == {"ledger-api", "ledger-db"}
    assert all(found["threeport.io/logs"] == "collect" for found in labels.values())
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            # The selector is unchanged: only the template carries the label.
            assert "threeport.io/logs" not in obj["spec"]["selector"]["matchLabels"]  # type: ignore[index]
            kubernetes_validate.validate(obj, "1.32", strict=True)


def test_an_app_without_logging_or_an_agent_without_a_label_is_left_alone() -> None:
    plain = pod_labels(rendered(spec(False), {}))
    assert all("threeport.io/logs" not in found for found in plain.values())
    assert collection_labels(spec(True), {"logs": {"endpoint": "http://elsewhere"}}) == {}
    assert collection_labels(spec(True), {}) == {}  # before the claim has published outputs
