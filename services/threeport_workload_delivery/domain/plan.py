"""The delivery pipeline, computed once: ``plan(inputs)`` says which claims a deployment should
hold and which Kubernetes objects it should run. Pure: the Deployment reconciler applies the plan
(``reconcilers/deployment.py``), the Plan RPC renders it (``api/plan.py``), so a plan shows exactly
what a reconcile would do.

The objects need every dependency's outputs, which only exist once the claims are bound: until
then ``Plan.objects`` is None and ``Plan.waiting`` names the dependencies without outputs. The
reconciler therefore plans once to learn the claims, converges them, and plans again with their
outputs; Plan passes placeholders for outputs nobody has yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.delivery.v1alpha1 import release_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.domain.claims import DesiredClaim, desired_claims
from threeport_workload_delivery.domain.ingress import default_host
from threeport_workload_delivery.domain.rendering import (
    DependencyOutputs,
    Manifest,
    RenderInput,
    namespace_object,
    render,
)
from threeport_workload_delivery.domain.secret_rendering import PullCredential, SecretValue


@dataclass(frozen=True)
class PlanInputs:
    """Everything a plan depends on, already read."""

    deployment: str  # resource name
    deployment_uid: str
    application: str  # id
    environment: environment_pb2.Environment
    namespace: str
    # The configuration to render (the application's spec, or a rollback's snapshot).
    spec: application_pb2.ApplicationSpec
    # Where to run: always the application's current placement.
    placement: application_pb2.Placement
    images: Mapping[str, release_pb2.ImageRef]
    # Per dependency, the implementation the registry resolved (``aws-rds``), '' if unresolved.
    implementations: Mapping[str, str] = field(default_factory=dict)
    # The cluster the deployment is bound to, '' before it is placed.
    cluster: str = ""
    outputs: Mapping[str, DependencyOutputs] = field(default_factory=dict)
    # Per ``kind: helm`` component, what its chart rendered (``pipeline.charts``).
    charts: Mapping[str, list[Manifest]] = field(default_factory=dict)
    secret_values: Mapping[str, SecretValue] = field(default_factory=dict)
    pull_credentials: Mapping[str, PullCredential] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    cluster_claim: cluster_claim_pb2.ClusterClaim
    claims: list[DesiredClaim]
    # None until every dependency's outputs are known (see ``waiting``).
    objects: list[Manifest] | None
    waiting: list[str]
    # The deployment's Namespace, known before the rest (providers may put dependencies into it).
    namespace: Manifest
    # What ``objects`` were rendered from, so that a later plan of the same pass can reuse them.
    rendered_from: RenderInput | None = field(default=None, compare=False, repr=False)


def plan(inputs: PlanInputs, *, earlier: Plan | None = None) -> Plan:
    """The claims and objects for ``inputs``; raises ``RenderError`` for a configuration that
    cannot be rendered even with every output known (e.g. a reference to an unknown output).

    ``earlier``: a plan made before in the same pass (the reconciler plans up to three times as
    it learns the cluster and the outputs): its objects are reused when they were rendered from
    the same input, as they are in a steady pass of an app without dependencies. Rendering is
    pure, so the objects are the ones ``render`` would give again; they are shared, not copied."""
    project = names.project_of(inputs.deployment)
    environment_id = names.last_segment(inputs.environment.name)
    claims = desired_claims(
        deployment=inputs.deployment, deployment_uid=inputs.deployment_uid, spec=inputs.spec,
        environment=inputs.environment.name, cluster=inputs.cluster, namespace=inputs.namespace,
        implementations=inputs.implementations, application=inputs.application,
        default_host=default_host(inputs.application, environment_id, inputs.environment.spec.domain),
    )
    waiting = sorted(set(inputs.spec.dependencies) - set(inputs.outputs))
    rendered_from = None if waiting else RenderInput(
        project=project, deployment=inputs.deployment, application=inputs.application,
        environment=environment_id, namespace=inputs.namespace, spec=inputs.spec,
        images=inputs.images, dependencies=inputs.outputs, charts=inputs.charts,
        allow_cluster_scoped=inputs.environment.spec.allow_cluster_scoped,
        secret_values=inputs.secret_values, pull_credentials=inputs.pull_credentials,
    )
    if rendered_from is None:
        objects = None
    elif earlier is not None and earlier.rendered_from == rendered_from:
        objects = earlier.objects
    else:
        objects = render(rendered_from)
    namespace = namespace_object(project=project, deployment=inputs.deployment, application=inputs.application,
                                 environment=environment_id, namespace=inputs.namespace)
    return Plan(cluster_claim_for(inputs.deployment, inputs.placement, inputs.environment), claims, objects, waiting,
                namespace, rendered_from)


def cluster_claim_for(
    deployment: str, placement: application_pb2.Placement, environment: environment_pb2.Environment
) -> cluster_claim_pb2.ClusterClaim:
    """The ClusterClaim that places the deployment: the application's placement over the
    environment's cluster, labels and profile."""
    env = environment.spec
    labels = {**env.cluster_labels, **placement.cluster_labels}
    profile = placement.cluster_profile or env.cluster_profile
    project = names.project_of(deployment)
    return cluster_claim_pb2.ClusterClaim(
        labels={names.PROJECT_LABEL: project, names.DEPLOYMENT_LABEL: names.last_segment(deployment)},
        spec=cluster_claim_pb2.ClusterClaimSpec(
            owner=deployment,
            cluster=placement.cluster or env.cluster,
            requirements=cluster_claim_pb2.ClusterRequirements(location=placement.location, labels=labels),
            allow_on_demand=env.on_demand_clusters,
            profile=f"clusterProfiles/{profile}" if profile and "/" not in profile else profile,
            project=f"projects/{project}",
        ),
    )
