"""Every object delivery renders for the sample applications (deploy/examples/delivery) is valid
for the Kubernetes version the emulator announces, checked strictly against the published
OpenAPI schemas (threeport_kubesim.schemas.validate, issue 10 item 13): a typo or a wrongly typed
field in rendering fails here, not silently dropped by an API server."""

from __future__ import annotations

import io
from pathlib import Path

from threeport.delivery.v1alpha1 import release_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_cli.manifests import parse_document, read_documents
from threeport_kubesim import schemas
from threeport_workload_delivery.domain.rendering import (
    DependencyOutputs,
    RenderInput,
    component_outputs,
    render,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "delivery"
PROJECT, ENVIRONMENT = "acme", "dev"


def _applications() -> dict[str, application_pb2.ApplicationSpec]:
    found: dict[str, application_pb2.ApplicationSpec] = {}
    files = [str(EXAMPLES / name) for name in ("applications.yaml", "applications-kinds.yaml")]
    for document in read_documents(files, io.StringIO()):
        manifest = parse_document(document, PROJECT)
        assert isinstance(manifest.message, application_pb2.Application)
        found[manifest.resource_id] = manifest.message.spec
    return found


def _namespace(application: str) -> str:
    return f"{PROJECT}-{application}-{ENVIRONMENT}"


def test_every_object_rendered_for_the_sample_apps_is_schema_valid() -> None:
    applications = _applications()
    assert applications, "no sample applications found"
    rendered: list[dict[str, object]] = []
    for application, spec in applications.items():
        dependencies: dict[str, DependencyOutputs] = {}
        for name, dependency in spec.dependencies.items():
            target = dependency.params["application"]
            published = component_outputs(applications[target], target, _namespace(target))
            component = dependency.params["component"]
            dependencies[name] = DependencyOutputs(
                "application",
                {key: published[f"{component}.{key}"] for key in ("host", "port", "url")},
            )
        images = {name: release_pb2.ImageRef(image=c.image) for name, c in spec.components.items()}
        rendered += render(
            RenderInput(
                project=PROJECT,
                deployment=f"projects/{PROJECT}/deployments/{application}-{ENVIRONMENT}",
                application=application,
                environment=ENVIRONMENT,
                namespace=_namespace(application),
                spec=spec,
                images=images,
                dependencies=dependencies,
            )
        )
    kinds = {str(obj["kind"]) for obj in rendered}
    assert {"Namespace", "Deployment", "Service", "ConfigMap", "ServiceAccount", "Job", "CronJob",
            "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    for obj in rendered:
        assert schemas.has_schema(str(obj["kind"]), str(obj["apiVersion"])), obj["kind"]
        schemas.validate(obj)
