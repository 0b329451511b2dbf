"""Gathers what a deployment should run: its application and environment from the registry,
the namespace, the configuration source (live spec, or a release pinned by a rollback), the
images, the resolved service classes, and the rendered objects. Shared by the reconciler and
Plan, so a plan shows exactly what a reconcile would do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf import json_format

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport.sdk import ApiError, AsyncClient, NotFoundError
from threeport_model.dependency_types import provider_of
from threeport_model.namespaces import NamespaceError, namespace_for
from threeport_workload_delivery.domain import changes, names
from threeport_workload_delivery.domain.rendering import DependencyOutputs, Manifest, RenderInput, render
from threeport_workload_delivery.store.releases import ReleaseStore, StoredRelease


class NotReady(Exception):
    """Something the deployment needs is missing; ``reason`` and ``message`` go into Ready."""

    def __init__(self, reason: str, message: str, retry_after: float = 5.0):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


@dataclass
class Inputs:
    project: str
    application: application_pb2.Application
    environment: environment_pb2.Environment
    namespace: str
    spec: application_pb2.ApplicationSpec
    pinned_release: int
    images: dict[str, release_pb2.ImageRef]
    resolved: dict[str, str] = field(default_factory=dict)


def desired_images(
    spec: application_pb2.ApplicationSpec, overrides: dict[str, release_pb2.ImageRef]
) -> dict[str, release_pb2.ImageRef]:
    """Per component: the deployment's override (builds, promotions, rollbacks), else the
    application's own image."""
    images: dict[str, release_pb2.ImageRef] = {}
    for component, definition in sorted(spec.components.items()):
        override = overrides.get(component)
        if override is not None and override.image:
            images[component] = override
        else:
            images[component] = release_pb2.ImageRef(image=definition.image)
    return images


def spec_of(stored: StoredRelease) -> application_pb2.ApplicationSpec:
    return json_format.ParseDict(
        stored.snapshot.get("application", {}), application_pb2.ApplicationSpec(), ignore_unknown_fields=True
    )


async def load_inputs(
    registry: AsyncClient, releases: ReleaseStore, deployment: deployment_pb2.Deployment
) -> Inputs:
    project = names.project_of(deployment.name)
    app_name = f"projects/{project}/applications/{deployment.spec.application}"
    env_name = f"projects/{project}/environments/{deployment.spec.environment}"
    try:
        application = await registry.application.get_application(name=app_name)
    except NotFoundError:
        raise NotReady("ApplicationNotFound", f"{app_name} does not exist; apply it first") from None
    try:
        environment = await registry.environment.get_environment(name=env_name)
    except NotFoundError:
        raise NotReady("EnvironmentNotFound", f"{env_name} does not exist; ask an admin to create it") from None
    try:
        namespace = namespace_for(
            deployment.spec.namespace, environment.spec.namespace_template, project=project,
            application=deployment.spec.application, environment=deployment.spec.environment,
        )
    except NamespaceError as error:
        raise NotReady("InvalidNamespace", str(error), retry_after=30.0) from None
    spec = application.spec
    pinned = changes.config_pin(dict(deployment.annotations), application.generation)
    if pinned:
        stored = await releases.get_number(deployment.name, pinned)
        if stored is not None:
            spec = spec_of(stored)
        else:
            pinned = 0
    images = desired_images(spec, dict(deployment.spec.images))
    return Inputs(project, application, environment, namespace, spec, pinned, images)


async def resolve_classes(registry: AsyncClient, inputs: Inputs) -> dict[str, str]:
    """Per non-application dependency, ``implementation (serviceClasses/x)`` as the registry
    resolves it for this environment; unresolvable ones say why."""
    resolved: dict[str, str] = {}
    for name, dep in sorted(inputs.spec.dependencies.items()):
        if provider_of(dep.type) == "application":
            continue
        try:
            answer = await registry.service_class.resolve_service_class(
                parent=f"projects/{inputs.project}", environment=inputs.environment.name, type=dep.type,
                class_=getattr(dep, "class"),
            )
            resolved[name] = f"{answer.service_class.spec.implementation} ({answer.service_class.name})"
        except ApiError as error:
            resolved[name] = f"unresolved: {error.message}"
    return resolved


def implementation_of(resolved: str) -> str:
    return "" if resolved.startswith("unresolved") else resolved.split(" ", 1)[0]


def render_inputs(
    deployment: deployment_pb2.Deployment, inputs: Inputs, spec: application_pb2.ApplicationSpec,
    images: dict[str, release_pb2.ImageRef], outputs: dict[str, DependencyOutputs],
) -> list[Manifest]:
    return render(
        RenderInput(
            project=inputs.project,
            deployment=deployment.name,
            application=deployment.spec.application,
            environment=deployment.spec.environment,
            namespace=inputs.namespace,
            spec=spec,
            images=images,
            dependencies=outputs,
        )
    )
