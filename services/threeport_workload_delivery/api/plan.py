"""Plan: what deploying would do, changing nothing.

Renders ``domain.plan`` — the same plan the reconciler applies — as the dependency tree
(cluster, addons, managed services, applications) with each node's state as it is now and what
would change (claims to create, update or release), and the Kubernetes objects the application's
current definition would create, change or prune compared with what is live. Outputs of
non-application dependencies are shown as placeholders. Nothing is claimed, written or applied.
"""

from __future__ import annotations

from threeport.addons.v1alpha1 import addon_claim_pb2
from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.common.v1alpha1 import state_pb2
from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.infra.v1alpha1 import service_claim_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport.sdk import ApiError, AsyncClient
from threeport_model.dependency_types import outputs_of, provider_of
from threeport_runtime import helm
from threeport_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from threeport_runtime.kube.errors import KubeError
from threeport_runtime.kube.pool import KubePool
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_workload_delivery.api.validation import id_violations
from threeport_workload_delivery.backends import Backends
from threeport_workload_delivery.domain import claims, external_secrets, names, ownership
from threeport_workload_delivery.domain.diffing import ObjectKey, in_sync, object_key, unified_diff
from threeport_workload_delivery.domain.external_secrets import is_synced
from threeport_workload_delivery.domain.plan import plan
from threeport_workload_delivery.domain.rendering import DependencyOutputs, Manifest, RenderError, image_of
from threeport_workload_delivery.pipeline import secret_inputs
from threeport_workload_delivery.pipeline.charts import render_charts
from threeport_workload_delivery.pipeline.claims import Claimer
from threeport_workload_delivery.pipeline.inputs import (
    NotReady,
    implementation_of,
    load_inputs,
    plan_inputs,
    resolve_classes,
)
from threeport_workload_delivery.pipeline.live import kinds_of, live_objects, released_kinds
from threeport_workload_delivery.pipeline.secret_inputs import SecretSources
from threeport_workload_delivery.remote_reads import RegistryReads
from threeport_workload_delivery.store.releases import ReleaseStore

Node = deployment_pb2.PlanNode
PLACEHOLDER_OUTPUTS = ("host", "port", "database", "username", "password", "url", "name", "region", "endpoint",
                       "fqdn")


def placeholders(name: str, dep: application_pb2.Dependency, implementation: str) -> DependencyOutputs:
    """Stand-ins for the outputs a claim has not published: the usual ones and the type's own
    (a secret's keys); a secret synced by external-secrets as the claim would publish it, so
    that the plan shows its ExternalSecret."""
    if is_synced(dep.type, implementation):
        return DependencyOutputs(external_secrets.CLAIM_TYPE, {external_secrets.STORE_OUTPUT: f"<{name}.store>"})
    known = (*PLACEHOLDER_OUTPUTS, *outputs_of(dep.type, dep.params if dep.HasField("params") else None))
    return DependencyOutputs(dep.type, {o: f"<{name}.{o}>" for o in known}, {})


PLANNED_VERBS = {
    service_claim_pb2.PLANNED_ACTION_CREATE: "would create",
    service_claim_pb2.PLANNED_ACTION_MODIFY: "would modify",
    service_claim_pb2.PLANNED_ACTION_REFUSED: "would refuse to change",
}


def service_plan_text(planned: service_claim_pb2.PlanServiceClaimResponse, *, new: bool) -> str:
    """The infra-provider's plan of a service claim as the tail of its node's message: what each
    resource would become (an existing claim's unchanged resources are left out)."""
    if planned.problem:
        return f"; {planned.implementation}: {planned.problem}"
    changes = [
        f"{PLANNED_VERBS[r.action]} {r.type.rsplit('/', 1)[-1].rsplit('::', 1)[-1]} {r.id} ({r.description})"
        for r in planned.resources
        if r.action in PLANNED_VERBS
    ]
    if not new and not changes:
        return f"; {planned.managed_service}: no change"
    released = "retained" if planned.retain else "deleted"
    return f"; {planned.managed_service}: {'; '.join(changes)}; {released} once no claim uses it"


class Planner:
    def __init__(self, methods: StandardMethods[deployment_pb2.Deployment], releases: ReleaseStore,
                 registry: AsyncClient, backends: Backends, claimer: Claimer, pool: KubePool,
                 secrets: SecretSources, charts: helm.ChartCache | None = None):
        self._secrets = secrets
        self._deployments = methods.repository
        self._methods = methods
        self._releases = releases
        self._registry = registry
        self._backends = backends
        self._claimer = claimer
        self._pool = pool
        self._charts = charts or helm.ChartCache()

    async def _subject(self, request: deployment_pb2.PlanRequest) -> deployment_pb2.Deployment:
        if request.name:
            return await self._deployments.get(request.name)
        violations = self._methods.check_parent(request.parent) + id_violations(
            application=request.application, environment=request.environment)
        if violations:
            raise InvalidArgument.for_fields(violations)
        name = f"{request.parent}/deployments/{names.deployment_id(request.application, request.environment)}"
        try:
            return await self._deployments.get(name)
        except NotFound:
            return deployment_pb2.Deployment(name=name, spec=deployment_pb2.DeploymentSpec(
                application=request.application, environment=request.environment))

    async def plan(self, request: deployment_pb2.PlanRequest) -> deployment_pb2.PlanResponse:
        deployment = await self._subject(request)
        exists = bool(deployment.uid)
        try:
            inputs = await load_inputs(RegistryReads(self._registry), self._releases, deployment)
        except NotReady as missing:
            raise FailedPrecondition(missing.message) from None
        images = ", ".join(f"{c}: {image_of(s.image)} ({s.message})" for c, s in inputs.sources.items())
        root = Node(kind="deployment", name=deployment.name,
                    state=deployment.state if exists else state_pb2.STATE_PENDING,
                    message=f"{deployment.spec.application} in {deployment.spec.environment}, namespace "
                            f"{inputs.namespace}" + ("" if exists else " (would be created)") + f"; images: {images}")
        claim = await self._claimer.find_cluster(deployment) if exists else None
        cluster = claim.status.cluster if claim is not None else ""
        inputs.resolved = await resolve_classes(RegistryReads(self._registry), inputs)
        outputs: dict[str, DependencyOutputs] = {}
        app_nodes: dict[str, Node] = {}
        for dep_name, dep in sorted(inputs.spec.dependencies.items()):
            if provider_of(dep.type) == "application":
                result = await self._claimer.application_dependency(deployment, dep_name, dep)
                if result.outputs is not None:
                    outputs[dep_name] = result.outputs
                app_nodes[dep_name] = Node(kind="application", name=f"{dep_name}: {result.status.claim}",
                                           state=result.status.state,
                                           message=f"{result.status.reason} {result.status.message}".strip())
            else:
                outputs[dep_name] = placeholders(dep_name, dep, implementation_of(inputs.resolved.get(dep_name, "")))
        try:
            await secret_inputs.fill(self._secrets, deployment, inputs)
        except NotReady as missing:
            raise FailedPrecondition(missing.message) from None
        try:
            charts = await render_charts(self._charts, inputs.spec, application=deployment.spec.application,
                                         namespace=inputs.namespace, dependencies=outputs)
            planned = plan(plan_inputs(deployment, inputs, cluster=cluster, outputs=outputs, charts=charts))
        except RenderError as error:
            raise FailedPrecondition(f"cannot render yet: {error}") from None
        root.children.append(self._cluster_node(claim, planned.cluster_claim))
        known = {d.name: d for d in deployment.status.dependencies}
        for desired in planned.claims:
            root.children.append(await self._claim_node(desired, known.get(desired.dependency), inputs.resolved))
        root.children.extend(app_nodes.values())
        for gone in deployment.status.dependencies:
            if claims.is_claim(gone.claim) and gone.name not in inputs.spec.dependencies:
                root.children.append(Node(kind="addon" if gone.claim.startswith("addonClaims/") else "service",
                                          name=f"{gone.name}: {gone.type}", state=gone.state,
                                          message=f"would release {gone.claim}: no longer a dependency"))
        assert planned.objects is not None  # every dependency has (placeholder) outputs
        response = deployment_pb2.PlanResponse(root=root, merged=inputs.provenance)
        response.changes.extend(await self._changes(deployment, inputs.project, cluster, planned.objects, root))
        return response

    @staticmethod
    def _cluster_node(claim: cluster_claim_pb2.ClusterClaim | None, wanted: cluster_claim_pb2.ClusterClaim) -> Node:
        if claim is not None:
            return Node(kind="cluster", name=claim.status.cluster or claim.name, state=claim.state,
                        message=claim.status.placement_reason)
        spec = wanted.spec
        where = spec.cluster or ", ".join(
            part for part in (spec.requirements.location,
                              " ".join(f"{k}={v}" for k, v in sorted(spec.requirements.labels.items()))) if part
        ) or "any cluster"
        return Node(kind="cluster", name="(not claimed)", state=state_pb2.STATE_PENDING,
                    message=f"would claim a cluster: {where}" + (" (may be created on demand)" if spec.allow_on_demand
                                                                 else ""))

    async def _addons_pulled_in(self, desired: claims.DesiredClaim) -> str:
        """``; would install X, Y; already there: Z`` as the addon-manager plans the claim."""
        if self._backends.addons is None or not isinstance(desired.spec, addon_claim_pb2.AddonClaimSpec):
            return ""
        try:
            planned = await self._backends.addons.internal.addon_claim.plan_addon_claim(spec=desired.spec)
        except ApiError as error:
            return f"; the addon-manager cannot say which addons: {error}"
        if planned.problem:
            return f"; {planned.problem}"
        new = [a.addon.removeprefix("addons/") for a in planned.addons if not a.installation]
        there = [a.addon.removeprefix("addons/") for a in planned.addons if a.installation]
        unplaced = "" if desired.spec.cluster else " (unless the cluster it is placed on has them already)"
        return (f"; would install {', '.join(new)}{unplaced}" if new else "") + (
            f"; already there: {', '.join(there)}" if there else "")

    async def _claim_node(
        self, desired: claims.DesiredClaim, status: deployment_pb2.DependencyStatus | None, resolved: dict[str, str],
    ) -> Node:
        kind = "addon" if desired.provider == "addons" else "service"
        name = f"{desired.dependency}: {desired.type}"
        klass = getattr(desired.spec, "class") or "default"
        if self._claimer.provider_missing(desired):
            return Node(kind=kind, name=name, state=state_pb2.STATE_PENDING,
                        message=f"NoProvider: no {'addon-manager' if kind == 'addon' else 'infra-provider'} is "
                                "configured")
        if status is None or not status.claim:
            message = f"would claim {desired.type} ({klass}) via {resolved.get(desired.dependency, '?')}"
            if kind == "addon":
                message += await self._addons_pulled_in(desired)
            else:
                message += await self._service_made(desired, None)
            return Node(kind=kind, name=name, state=state_pb2.STATE_PENDING, message=message)
        message = f"{status.reason} {status.message}".strip()
        live = await self._claimer.read_claim(desired)
        if live is not None and (changed := claims.differs(desired.spec, live.spec)):
            message += f"; would update {', '.join(changed)}"
        if kind == "service" and live is not None:
            message += await self._service_made(desired, live.name)
        return Node(kind=kind, name=name, state=status.state, message=message)

    async def _service_made(self, desired: claims.DesiredClaim, claim: str | None) -> str:
        """``: managedServices/x: would create DBInstance tp-x (RDS postgres ...); ...`` as the
        infra-provider plans the claim (``claim``: the existing one, whose spec would change)."""
        if self._backends.infra is None or not isinstance(desired.spec, service_claim_pb2.ServiceClaimSpec):
            return ""
        try:
            planned = await self._backends.infra.internal.service_claim.plan_service_claim(
                spec=desired.spec, name=claim or "")
        except ApiError as error:
            return f"; the infra-provider cannot say what it would create: {error}"
        return service_plan_text(planned, new=claim is None)

    async def _changes(
        self, deployment: deployment_pb2.Deployment, project: str, cluster: str, objects: list[Manifest], root: Node,
    ) -> list[deployment_pb2.ObjectChange]:
        """Per rendered object CREATE / UPDATE (with a diff) / UNCHANGED, and PRUNE for the rest."""
        live: dict[ObjectKey, Manifest] = {}
        objects = ownership.marked(objects, deployment.name)
        if cluster:
            try:
                client = await self._pool.client(cluster)
                kinds = kinds_of(objects) | await released_kinds(self._releases, deployment.name)
                # Only what the deployment owns would be changed or pruned (domain.ownership).
                live, _ = ownership.split_owned(
                    await live_objects(client, project, deployment.name, kinds), deployment.name)
                for manifest in objects:
                    key = object_key(manifest)
                    if key[1] == "Namespace" and key not in live and (namespace := await client.get(manifest)):
                        if refused := ownership.refusal(namespace, deployment.name):
                            root.children[0].message += f" (refused: {refused})"
                        live[key] = namespace
            except (KubeError, ApiError) as error:
                root.children[0].message += f" (cannot read live objects: {error})"
        found: list[deployment_pb2.ObjectChange] = []
        rendered: set[ObjectKey] = set()
        for manifest in objects:
            key = object_key(manifest)
            rendered.add(key)
            current = live.get(key)
            if current is None:
                action, diff = deployment_pb2.OBJECT_ACTION_CREATE, ""
            elif in_sync(current, manifest):
                action, diff = deployment_pb2.OBJECT_ACTION_UNCHANGED, ""
            else:
                action = deployment_pb2.OBJECT_ACTION_UPDATE
                diff = "" if manifest["kind"] == "Secret" else unified_diff(current, manifest)
            found.append(deployment_pb2.ObjectChange(
                action=action, api_version=key[0], kind=key[1], namespace=key[2], name=key[3], diff=diff))
        for key in sorted(live):
            if key not in rendered:
                found.append(deployment_pb2.ObjectChange(
                    action=deployment_pb2.OBJECT_ACTION_PRUNE, api_version=key[0], kind=key[1], namespace=key[2],
                    name=key[3]))
        return found
