"""Gathers what a deployment should run: its application and environment from the registry,
the namespace, the configuration source (live spec, or a release pinned by a rollback), the
images (``domain.images``: pins, the newest matching build, promotions and rollbacks), the
resolved service classes; and turns them into ``domain.plan``'s inputs. Shared by the
reconciler and Plan, so a plan shows exactly what a reconcile would do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from google.protobuf import json_format

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport.sdk import ApiError, NotFoundError
from threeport_model.dependency_types import provider_of
from threeport_model.namespaces import NamespaceError, namespace_keeping_earlier
from threeport_workload_delivery.domain import changes, names, overrides
from threeport_workload_delivery.domain import images as image_sources
from threeport_workload_delivery.domain.plan import PlanInputs
from threeport_workload_delivery.domain.rendering import DependencyOutputs, Manifest
from threeport_workload_delivery.domain.secret_rendering import PullCredential, SecretValue
from threeport_workload_delivery.remote_reads import RegistryReads
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
    sources: dict[str, deployment_pb2.ImageSource]
    resolved: dict[str, str] = field(default_factory=dict)
    # The derived namespace, when ``namespace`` is the earlier spelling the deployment runs in.
    fallback_namespace: str = ""
    # Each effective component value and where it came from (application, environment, deployment).
    provenance: list[deployment_pb2.MergedValue] = field(default_factory=list)
    # Filled by ``secret_inputs.SecretSources`` before rendering.
    secret_values: dict[str, SecretValue] = field(default_factory=dict)
    pull_credentials: dict[str, PullCredential] = field(default_factory=dict)

    @property
    def images(self) -> dict[str, release_pb2.ImageRef]:
        return image_sources.images_of(self.sources)


def spec_of(stored: StoredRelease) -> application_pb2.ApplicationSpec:
    return json_format.ParseDict(
        stored.snapshot.get("application", {}), application_pb2.ApplicationSpec(), ignore_unknown_fields=True
    )


async def load_inputs(
    registry: RegistryReads, releases: ReleaseStore, deployment: deployment_pb2.Deployment
) -> Inputs:
    project = names.project_of(deployment.name)
    app_name = f"projects/{project}/applications/{deployment.spec.application}"
    env_name = f"projects/{project}/environments/{deployment.spec.environment}"
    try:
        application = await registry.application(app_name)
    except NotFoundError:
        raise NotReady("ApplicationNotFound", f"{app_name} does not exist; apply it first") from None
    try:
        environment = await registry.environment(env_name)
    except NotFoundError:
        raise NotReady("EnvironmentNotFound", f"{env_name} does not exist; ask an admin to create it") from None
    try:
        namespace, fallback = namespace_keeping_earlier(
            deployment.spec.namespace, environment.spec.namespace_template, deployment.status.namespace,
            project=project, application=deployment.spec.application, environment=deployment.spec.environment,
        )
    except NamespaceError as error:
        raise NotReady("InvalidNamespace", str(error), retry_after=30.0) from None
    # The environment's and the deployment's overrides are merged in here, so releases snapshot
    # the merged configuration and a rollback restores it exactly as it ran.
    merged = overrides.merge(application.spec, overrides.layers_for(deployment.spec.application, environment,
                                                                    deployment))
    spec, provenance = merged.spec, merged.provenance
    pinned = changes.config_pin(dict(deployment.annotations), application.generation)
    if pinned:
        stored = await releases.get_number(deployment.name, pinned)
        if stored is not None:
            spec = spec_of(stored)
            provenance = [deployment_pb2.MergedValue(component=v.component, field=v.field, value=v.value,
                                                     source=f"release/{pinned}")
                          for v in overrides.merge(spec, []).provenance]
        else:
            pinned = 0
    builds = await registry.latest_builds(app_name, env_name)
    sources = image_sources.derive(spec, dict(deployment.spec.images), dict(builds.builds),
                            image_sources.read_record(dict(deployment.annotations)))
    return Inputs(project, application, environment, namespace, spec, pinned, sources, fallback_namespace=fallback,
                  provenance=provenance)


async def resolve_classes(registry: RegistryReads, inputs: Inputs) -> dict[str, str]:
    """Per non-application dependency, ``implementation (serviceClasses/x)`` as the registry
    resolves it for this environment; unresolvable ones say why."""
    resolved: dict[str, str] = {}
    for name, dep in sorted(inputs.spec.dependencies.items()):
        if provider_of(dep.type) == "application":
            continue
        try:
            answer = await registry.service_class(inputs.environment.name, dep.type, getattr(dep, "class"))
            resolved[name] = f"{answer.service_class.spec.implementation} ({answer.service_class.name})"
        except ApiError as error:
            resolved[name] = f"unresolved: {error.message}"
    return resolved


def implementation_of(resolved: str) -> str:
    return "" if resolved.startswith("unresolved") else resolved.split(" ", 1)[0]


def plan_inputs(
    deployment: deployment_pb2.Deployment, inputs: Inputs, *, cluster: str = "",
    outputs: Mapping[str, DependencyOutputs] | None = None, spec: application_pb2.ApplicationSpec | None = None,
    images: Mapping[str, release_pb2.ImageRef] | None = None,
    charts: Mapping[str, list[Manifest]] | None = None,
) -> PlanInputs:
    """What ``domain.plan.plan`` needs, from what was read: by default the current configuration
    and images; a release's own for re-rendering an older release."""
    return PlanInputs(
        deployment=deployment.name, deployment_uid=deployment.uid, application=deployment.spec.application,
        environment=inputs.environment, namespace=inputs.namespace, spec=inputs.spec if spec is None else spec,
        placement=inputs.application.spec.placement, images=inputs.images if images is None else images,
        implementations={k: implementation_of(v) for k, v in inputs.resolved.items()}, cluster=cluster,
        outputs=outputs or {}, charts=charts or {}, secret_values=inputs.secret_values,
        pull_credentials=inputs.pull_credentials,
    )
