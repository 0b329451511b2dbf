"""The claiming side of dependencies (DESIGN §4): a ClusterClaim per deployment, an AddonClaim
or ServiceClaim per declared addon or managed-service dependency, and `application`
dependencies resolved from the other deployment in the same environment.

Claim names are derived from the deployment's uid and the dependency name, and creates carry a
request id, so a crash between creating a claim and recording it never makes a second one.
A provider that is not configured, not implemented or unavailable leaves the dependency
Pending with reason ``NoProvider``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2

from threeport.addons.v1alpha1 import addon_claim_pb2
from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.common.v1alpha1 import condition_pb2, state_pb2
from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.infra.v1alpha1 import service_claim_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport.sdk import (
    AlreadyExistsError,
    ApiError,
    AsyncClient,
    NotFoundError,
    UnavailableError,
    UnimplementedError,
)
from threeport_model.dependency_types import provider_of
from threeport_workload_delivery.backends import Backends
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.domain.rendering import DependencyOutputs

READY = "Ready"
PENDING = state_pb2.STATE_PENDING
READY_STATE = state_pb2.STATE_READY
FAILED = state_pb2.STATE_FAILED

FindDeployment = Callable[[str], Awaitable[deployment_pb2.Deployment | None]]


@dataclass(frozen=True)
class ClusterBinding:
    claim: str
    cluster: str
    ready: bool
    reason: str
    message: str


@dataclass(frozen=True)
class DependencyResult:
    status: deployment_pb2.DependencyStatus
    outputs: DependencyOutputs | None

    @property
    def ready(self) -> bool:
        return self.status.state == READY_STATE


def _ready(conditions: Any) -> condition_pb2.Condition | None:
    return next((c for c in conditions if c.type == READY), None)


def _is_ready(resource: Any) -> bool:
    ready = _ready(resource.conditions)
    return ready is not None and ready.status == condition_pb2.CONDITION_STATUS_TRUE


def _not_ready_reason(resource: Any, default: str) -> tuple[str, str]:
    ready = _ready(resource.conditions)
    if ready is None:
        return default, "waiting for the provider to act on the claim"
    return ready.reason or default, ready.message


def no_provider(name: str, dep: application_pb2.Dependency, detail: str) -> DependencyResult:
    service = "addon-manager" if provider_of(dep.type) == "addons" else "infra-provider"
    status = deployment_pb2.DependencyStatus(
        name=name, type=dep.type, state=PENDING, reason="NoProvider",
        message=f"no provider for dependency type {dep.type!r}: the {service} {detail}",
    )
    return DependencyResult(status, None)


def _params(dep: application_pb2.Dependency) -> dict[str, Any]:
    value: dict[str, Any] = json_format.MessageToDict(dep.params)
    return value


class Claimer:
    def __init__(self, backends: Backends, find_deployment: FindDeployment):
        self._backends = backends
        self._find_deployment = find_deployment

    # -- cluster ---------------------------------------------------------------------------------

    def _clusters(self) -> AsyncClient:
        if self._backends.clusters is None:
            raise RuntimeError("THREEPORT_BACKEND_CLUSTERS is not set: workload-delivery cannot place deployments")
        return self._backends.clusters

    def cluster_claim_name(self, deployment: deployment_pb2.Deployment) -> str:
        return f"clusterClaims/{names.claim_id(deployment.name, deployment.uid)}"

    async def find_cluster(self, deployment: deployment_pb2.Deployment) -> cluster_claim_pb2.ClusterClaim | None:
        try:
            return await self._clusters().internal.cluster_claim.get_cluster_claim(
                name=self.cluster_claim_name(deployment)
            )
        except NotFoundError:
            return None

    def cluster_claim_for(
        self, deployment: deployment_pb2.Deployment, application: application_pb2.Application,
        environment: environment_pb2.Environment,
    ) -> cluster_claim_pb2.ClusterClaim:
        placement = application.spec.placement
        env = environment.spec
        labels = {**env.cluster_labels, **placement.cluster_labels}
        profile = placement.cluster_profile or env.cluster_profile
        return cluster_claim_pb2.ClusterClaim(
            labels={names.PROJECT_LABEL: names.project_of(deployment.name),
                    names.DEPLOYMENT_LABEL: names.last_segment(deployment.name)},
            spec=cluster_claim_pb2.ClusterClaimSpec(
                owner=deployment.name,
                cluster=placement.cluster or env.cluster,
                requirements=cluster_claim_pb2.ClusterRequirements(location=placement.location, labels=labels),
                allow_on_demand=env.on_demand_clusters,
                profile=f"clusterProfiles/{profile}" if profile and "/" not in profile else profile,
                project=f"projects/{names.project_of(deployment.name)}",
            ),
        )

    async def claim_cluster(
        self, deployment: deployment_pb2.Deployment, application: application_pb2.Application,
        environment: environment_pb2.Environment,
    ) -> ClusterBinding:
        claim = await self.find_cluster(deployment)
        name = self.cluster_claim_name(deployment)
        if claim is None:
            try:
                claim = await self._clusters().internal.cluster_claim.create_cluster_claim(
                    cluster_claim_id=names.last_segment(name),
                    cluster_claim=self.cluster_claim_for(deployment, application, environment),
                    request_id=f"delivery:{deployment.uid}:cluster",
                )
            except AlreadyExistsError:
                claim = await self._clusters().internal.cluster_claim.get_cluster_claim(name=name)
        if _is_ready(claim) and claim.status.cluster:
            return ClusterBinding(name, claim.status.cluster, True, "Placed",
                                  claim.status.placement_reason or f"placed on {claim.status.cluster}")
        reason, message = _not_ready_reason(claim, "Placing")
        return ClusterBinding(name, claim.status.cluster, False, reason,
                              claim.status.placement_reason or message)

    # -- dependencies ----------------------------------------------------------------------------

    async def claim_dependency(
        self, deployment: deployment_pb2.Deployment, name: str, dep: application_pb2.Dependency,
        environment: environment_pb2.Environment, cluster: str, namespace: str,
        implementation: str,
    ) -> DependencyResult:
        provider = provider_of(dep.type)
        if provider == "application":
            return await self._application(deployment, name, dep)
        client = self._backends.addons if provider == "addons" else self._backends.infra
        variable = "THREEPORT_BACKEND_ADDONS" if provider == "addons" else "THREEPORT_BACKEND_INFRA"
        if client is None:
            return no_provider(name, dep, f"is not configured ({variable} is not set)")
        claim_name = (
            f"{'addonClaims' if provider == 'addons' else 'serviceClaims'}/"
            f"{names.claim_id(deployment.name, deployment.uid, name)}"
        )
        try:
            if provider == "addons":
                claim: Any = await self._addon_claim(client, deployment, claim_name, name, dep, environment, cluster)
            else:
                claim = await self._service_claim(
                    client, deployment, claim_name, name, dep, cluster, namespace, implementation
                )
        except UnimplementedError:
            return no_provider(name, dep, "does not implement claims yet")
        except UnavailableError as error:
            return no_provider(name, dep, f"is unavailable ({error.message})")
        status = deployment_pb2.DependencyStatus(
            name=name, type=dep.type, claim=claim_name, implementation=implementation
        )
        if _is_ready(claim):
            status.state = READY_STATE
            status.reason = "Bound"
            outputs = claim.status.outputs
            return DependencyResult(
                status, DependencyOutputs(dep.type, dict(outputs.values), dict(outputs.secrets))
            )
        status.state = PENDING
        status.reason, status.message = _not_ready_reason(claim, "Claimed")
        return DependencyResult(status, None)

    async def _addon_claim(
        self, client: AsyncClient, deployment: deployment_pb2.Deployment, claim_name: str, name: str,
        dep: application_pb2.Dependency, environment: environment_pb2.Environment, cluster: str,
    ) -> addon_claim_pb2.AddonClaim:
        api = client.internal.addon_claim
        try:
            return await api.get_addon_claim(name=claim_name, timeout=5)
        except NotFoundError:
            pass
        claim = addon_claim_pb2.AddonClaim(
            spec=addon_claim_pb2.AddonClaimSpec(
                owner=deployment.name, type=dep.type, cluster=cluster, params=dep.params,
                project=f"projects/{names.project_of(deployment.name)}", environment=environment.name,
                **{"class": getattr(dep, "class")},
            )
        )
        try:
            return await api.create_addon_claim(
                addon_claim_id=names.last_segment(claim_name), addon_claim=claim,
                request_id=f"delivery:{deployment.uid}:{name}", timeout=5,
            )
        except AlreadyExistsError:
            return await api.get_addon_claim(name=claim_name, timeout=5)

    async def _service_claim(
        self, client: AsyncClient, deployment: deployment_pb2.Deployment, claim_name: str, name: str,
        dep: application_pb2.Dependency, cluster: str, namespace: str, implementation: str,
    ) -> service_claim_pb2.ServiceClaim:
        api = client.internal.service_claim
        try:
            return await api.get_service_claim(name=claim_name, timeout=5)
        except NotFoundError:
            pass
        claim = service_claim_pb2.ServiceClaim(
            spec=service_claim_pb2.ServiceClaimSpec(
                owner=deployment.name, dependency=name, type=dep.type, implementation=implementation,
                parameters=dep.params if dep.HasField("params") else struct_pb2.Struct(),
                cluster=cluster, namespace=namespace, **{"class": getattr(dep, "class")},
            )
        )
        try:
            return await api.create_service_claim(
                service_claim_id=names.last_segment(claim_name), service_claim=claim,
                request_id=f"delivery:{deployment.uid}:{name}", timeout=5,
            )
        except AlreadyExistsError:
            return await api.get_service_claim(name=claim_name, timeout=5)

    async def _application(
        self, deployment: deployment_pb2.Deployment, name: str, dep: application_pb2.Dependency
    ) -> DependencyResult:
        params = _params(dep)
        other_app = str(params.get("application", ""))
        environment = deployment.spec.environment
        target = names.deployment_name(names.project_of(deployment.name), other_app, environment)
        status = deployment_pb2.DependencyStatus(name=name, type=dep.type, claim=target,
                                                 implementation="application")
        other = await self._find_deployment(target)
        if other is None or other.HasField("delete_time"):
            status.state = PENDING
            status.reason = "WaitingForApplication"
            status.message = (
                f"{other_app} is not deployed to {environment}; "
                f"deploy it: tptctl deploy {other_app} --env {environment}"
            )
            return DependencyResult(status, None)
        outputs = dict(other.status.outputs)
        component = str(params.get("component", "")) or next(
            (key.split(".")[0] for key in sorted(outputs) if key.endswith(".host")), ""
        )
        port = str(params.get("port", ""))
        host = outputs.get(f"{component}.host")
        port_value = outputs.get(f"{component}.{port}.port" if port else f"{component}.port")
        url = outputs.get(f"{component}.{port}.url" if port else f"{component}.url")
        if host is None or port_value is None or url is None:
            status.state = PENDING
            status.reason = "WaitingForApplication"
            status.message = (
                f"{target} does not publish component {component or '?'}"
                + (f" port {port}" if port else "") + " yet"
            )
            return DependencyResult(status, None)
        status.state = READY_STATE
        status.reason = "Resolved"
        status.message = f"{component} of {target}"
        values = {"host": host, "port": port_value, "url": url}
        return DependencyResult(status, DependencyOutputs("application", values))

    # -- release ---------------------------------------------------------------------------------

    async def release(self, deployment: deployment_pb2.Deployment, claim_names: list[str]) -> list[str]:
        """Deletes the claims; returns those that still exist (their providers are cleaning up)."""
        remaining: list[str] = []
        for claim in claim_names:
            kind = claim.split("/")[0]
            try:
                if kind == "clusterClaims":
                    api: Any = self._clusters().internal.cluster_claim
                    await api.delete_cluster_claim(name=claim, allow_missing=True)
                    getter = api.get_cluster_claim
                elif kind in ("addonClaims", "serviceClaims"):
                    client = self._backends.addons if kind == "addonClaims" else self._backends.infra
                    if client is None:
                        continue
                    api = client.internal.addon_claim if kind == "addonClaims" else client.internal.service_claim
                    deleter = api.delete_addon_claim if kind == "addonClaims" else api.delete_service_claim
                    getter = api.get_addon_claim if kind == "addonClaims" else api.get_service_claim
                    await deleter(name=claim, allow_missing=True, timeout=5)
                else:
                    continue
                await getter(name=claim)
                remaining.append(claim)
            except NotFoundError:
                continue
            except (UnimplementedError, UnavailableError):
                if kind != "clusterClaims":
                    continue  # A provider that never existed holds nothing.
                remaining.append(claim)
            except ApiError:
                remaining.append(claim)
        return remaining
