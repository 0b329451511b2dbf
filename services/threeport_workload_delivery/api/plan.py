"""Plan: what deploying would do, changing nothing.

The dependency tree (cluster, addons, managed services, applications) with each node's state as
it is now, and the Kubernetes objects the application's current definition would create, change
or prune compared with what is live. Outputs of dependencies that are not bound yet are shown as
placeholders. Nothing is claimed, written or applied.
"""

from __future__ import annotations

from threeport.common.v1alpha1 import state_pb2
from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.sdk import ApiError, AsyncClient
from threeport_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_workload_delivery.api.validation import id_violations
from threeport_workload_delivery.backends import Backends
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.domain.dependencies import provider_of
from threeport_workload_delivery.domain.diffing import in_sync, object_key, unified_diff
from threeport_workload_delivery.domain.rendering import DependencyOutputs, RenderError, image_of
from threeport_workload_delivery.k8s.client import KubeError
from threeport_workload_delivery.k8s.pool import ClientPool
from threeport_workload_delivery.reconcilers.claims import Claimer
from threeport_workload_delivery.reconcilers.deployment import live_objects
from threeport_workload_delivery.reconcilers.inputs import NotReady, load_inputs, render_inputs, resolve_classes
from threeport_workload_delivery.store.releases import ReleaseStore

Node = deployment_pb2.PlanNode
PLACEHOLDER_OUTPUTS = ("host", "port", "database", "username", "password", "url", "name", "region", "endpoint",
                       "fqdn")


class Planner:
    def __init__(self, methods: StandardMethods[deployment_pb2.Deployment], releases: ReleaseStore,
                 registry: AsyncClient, backends: Backends, claimer: Claimer, pool: ClientPool):
        self._deployments = methods.repository
        self._methods = methods
        self._releases = releases
        self._registry = registry
        self._backends = backends
        self._claimer = claimer
        self._pool = pool

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
            inputs = await load_inputs(self._registry, self._releases, deployment)
        except NotReady as missing:
            raise FailedPrecondition(missing.message) from None
        root = Node(kind="deployment", name=deployment.name,
                    state=deployment.state if exists else state_pb2.STATE_PENDING,
                    message=f"{deployment.spec.application} in {deployment.spec.environment}, namespace "
                            f"{inputs.namespace}" + ("" if exists else " (would be created)") + "; images: "
                            + ", ".join(f"{c}: {image_of(s.image)} ({s.message})" for c, s in inputs.sources.items()))
        claim = await self._claimer.find_cluster(deployment) if exists else None
        cluster = claim.status.cluster if claim is not None else ""
        if claim is not None:
            cluster_node = Node(kind="cluster", name=cluster or claim.name, state=claim.state,
                                message=claim.status.placement_reason)
        else:
            wanted = self._claimer.cluster_claim_for(deployment, inputs.application, inputs.environment).spec
            where = wanted.cluster or ", ".join(
                part for part in (wanted.requirements.location,
                                  " ".join(f"{k}={v}" for k, v in sorted(wanted.requirements.labels.items()))) if part
            ) or "any cluster"
            cluster_node = Node(kind="cluster", name="(not claimed)", state=state_pb2.STATE_PENDING,
                                message=f"would claim a cluster: {where}"
                                        + (" (may be created on demand)" if wanted.allow_on_demand else ""))
        root.children.append(cluster_node)
        resolved = await resolve_classes(self._registry, inputs)
        known = {d.name: d for d in deployment.status.dependencies}
        outputs: dict[str, DependencyOutputs] = {}
        for dep_name, dep in sorted(inputs.spec.dependencies.items()):
            provider = provider_of(dep.type)
            if provider == "application":
                result = await self._claimer.application_dependency(deployment, dep_name, dep)
                status = result.status
                if result.outputs is not None:
                    outputs[dep_name] = result.outputs
                root.children.append(Node(kind="application", name=f"{dep_name}: {status.claim}",
                                          state=status.state, message=f"{status.reason} {status.message}".strip()))
                continue
            kind = "addon" if provider == "addons" else "service"
            configured = (self._backends.addons if provider == "addons" else self._backends.infra) is not None
            if dep_name in known:
                status = known[dep_name]
                node = Node(kind=kind, name=f"{dep_name}: {dep.type}", state=status.state,
                            message=f"{status.reason} {status.message}".strip())
            else:
                node = Node(kind=kind, name=f"{dep_name}: {dep.type}", state=state_pb2.STATE_PENDING,
                            message=(f"would claim {dep.type} ({getattr(dep, 'class') or 'default'}) via "
                                     f"{resolved.get(dep_name, '?')}") if configured else
                            f"NoProvider: no {'addon-manager' if kind == 'addon' else 'infra-provider'} is configured")
            root.children.append(node)
            outputs[dep_name] = DependencyOutputs(
                dep.type, {o: f"<{dep_name}.{o}>" for o in PLACEHOLDER_OUTPUTS}, {})
        response = deployment_pb2.PlanResponse(root=root)
        try:
            objects = render_inputs(deployment, inputs, inputs.spec, inputs.images, outputs)
        except RenderError as error:
            raise FailedPrecondition(f"cannot render yet: {error}") from None
        live: dict[tuple[str, str, str, str], dict[str, object]] = {}
        if cluster:
            try:
                client = await self._pool.client(cluster)
                live = await live_objects(client, inputs.project, deployment.name)
                for manifest in objects:
                    key = object_key(manifest)
                    if key[1] == "Namespace" and key not in live and (found := await client.get(manifest)):
                        live[key] = found
            except (KubeError, ApiError) as error:
                root.children[0].message += f" (cannot read live objects: {error})"
        rendered: set[tuple[str, str, str, str]] = set()
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
            response.changes.append(deployment_pb2.ObjectChange(
                action=action, api_version=key[0], kind=key[1], namespace=key[2], name=key[3], diff=diff))
        for key in sorted(live):
            if key not in rendered:
                response.changes.append(deployment_pb2.ObjectChange(
                    action=deployment_pb2.OBJECT_ACTION_PRUNE, api_version=key[0], kind=key[1], namespace=key[2],
                    name=key[3]))
        return response
