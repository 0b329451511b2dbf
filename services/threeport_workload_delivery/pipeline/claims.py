"""The claiming side of dependencies (DESIGN §4): a ClusterClaim per deployment, an AddonClaim
or ServiceClaim per declared addon or managed-service dependency, and `application`
dependencies resolved from the other deployment in the same environment.

Claim names are derived from the deployment's uid and the dependency name, and creates carry a
request id, so a crash between creating a claim and recording it never makes a second one.
Claims are converged, not just ensured: ``CLAIM_KINDS`` says per provider how to reach it; a
claim whose class, params or placement no longer match is updated, and the reconciler releases
claims of dependencies the application no longer declares. A provider that is not configured,
not implemented or unavailable leaves the dependency Pending with reason ``NoProvider``; during
a release an unavailable provider is waited for, since it may still hold the resources.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import field_mask_pb2, json_format

from threeport.addons.v1alpha1 import addon_claim_pb2
from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.common.v1alpha1 import condition_pb2, state_pb2
from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.infra.v1alpha1 import service_claim_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport.sdk import (
    AbortedError,
    AlreadyExistsError,
    ApiError,
    AsyncClient,
    NotFoundError,
    UnavailableError,
    UnimplementedError,
)
from threeport_model.dependency_types import Provider, provider_of
from threeport_runtime.remote_cache import RemoteCache
from threeport_workload_delivery.backends import Backends
from threeport_workload_delivery.domain import claims, names
from threeport_workload_delivery.domain.rendering import DependencyOutputs

READY = "Ready"
PENDING = state_pb2.STATE_PENDING
READY_STATE = state_pb2.STATE_READY
FAILED = state_pb2.STATE_FAILED

FindDeployment = Callable[[str], Awaitable[deployment_pb2.Deployment | None]]


@dataclass(frozen=True)
class ClaimKind:
    """How to reach the provider of one kind of claim: the SDK client (``backend``), its
    internal API (``api``: get_/create_/update_/delete_<api>), the message, and what to tell
    people when it is missing. Readiness is the claim's Ready condition for its current
    generation; outputs are ``status.outputs`` (values and secrets) for every kind."""

    collection: str
    backend: str
    api: str
    message: type[Any]
    service: str
    variable: str


CLAIM_KINDS: dict[Provider, ClaimKind] = {
    "addons": ClaimKind("addonClaims", "addons", "addon_claim", addon_claim_pb2.AddonClaim, "addon-manager",
                        "THREEPORT_BACKEND_ADDONS"),
    "infra": ClaimKind("serviceClaims", "infra", "service_claim", service_claim_pb2.ServiceClaim, "infra-provider",
                       "THREEPORT_BACKEND_INFRA"),
}


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


def _observed(resource: Any) -> int:
    """The generation the Ready condition speaks for (a claim without one speaks for any)."""
    ready = _ready(resource.conditions)
    return int(ready.observed_generation or resource.generation) if ready is not None else 0


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
    def __init__(self, backends: Backends, find_deployment: FindDeployment,
                 cluster_claims: RemoteCache[cluster_claim_pb2.ClusterClaim] | None = None):
        self._backends = backends
        self._find_deployment = find_deployment
        # Fed by the claims' change events (``remote_reads``); None: every read asks.
        self._cluster_claims = cluster_claims

    # -- cluster ---------------------------------------------------------------------------------

    def _clusters(self) -> AsyncClient:
        if self._backends.clusters is None:
            raise RuntimeError("THREEPORT_BACKEND_CLUSTERS is not set: workload-delivery cannot place deployments")
        return self._backends.clusters

    def cluster_claim_name(self, deployment: deployment_pb2.Deployment) -> str:
        return f"clusterClaims/{names.claim_id(deployment.name, deployment.uid)}"

    async def find_cluster(self, deployment: deployment_pb2.Deployment) -> cluster_claim_pb2.ClusterClaim | None:
        name = self.cluster_claim_name(deployment)

        async def read() -> cluster_claim_pb2.ClusterClaim:
            return await self._clusters().internal.cluster_claim.get_cluster_claim(name=name)

        try:
            return await (read() if self._cluster_claims is None else self._cluster_claims.get(name, read))
        except NotFoundError:
            return None

    async def claim_cluster(
        self, deployment: deployment_pb2.Deployment, desired: cluster_claim_pb2.ClusterClaim, *,
        maybe_claimed: bool = True,
    ) -> ClusterBinding:
        """Creates the cluster claim ``domain.plan`` asks for when there is none, and reports
        its binding. A bound claim stays where it is (the cluster-manager never moves one): a
        changed placement is reported (reason ``PlacementChanged``), not applied.

        ``maybe_claimed=False`` (no reconcile of this deployment got as far as its claim) skips
        the read that could only answer NotFound: the create's request id makes a repeated
        create (a crash after it) return the claim made before, and AlreadyExists is read."""
        claim = await self.find_cluster(deployment) if maybe_claimed else None
        name = self.cluster_claim_name(deployment)
        if claim is None:
            try:
                claim = await self._clusters().internal.cluster_claim.create_cluster_claim(
                    cluster_claim_id=names.last_segment(name),
                    cluster_claim=desired,
                    request_id=f"delivery:{deployment.uid}:cluster",
                )
            except AlreadyExistsError:
                claim = await self._clusters().internal.cluster_claim.get_cluster_claim(name=name)
        if _is_ready(claim) and claim.status.cluster:
            if changed := claims.differs(desired.spec, claim.spec, claims.PLACEMENT):
                return ClusterBinding(name, claim.status.cluster, True, "PlacementChanged", (
                    f"the placement changed ({', '.join(changed)}) but the deployment stays on "
                    f"{claim.status.cluster}: workloads are not moved behind your back; delete the deployment "
                    "and deploy again to move it"))
            return ClusterBinding(name, claim.status.cluster, True, "Placed",
                                  claim.status.placement_reason or f"placed on {claim.status.cluster}")
        reason, message = _not_ready_reason(claim, "Placing")
        return ClusterBinding(name, claim.status.cluster, False, reason,
                              claim.status.placement_reason or message)

    # -- dependencies ----------------------------------------------------------------------------

    def _api(self, kind: ClaimKind) -> Any | None:
        client: AsyncClient | None = getattr(self._backends, kind.backend)
        return None if client is None else getattr(client.internal, kind.api)

    async def claim_dependency(
        self, deployment: deployment_pb2.Deployment, desired: claims.DesiredClaim,
    ) -> DependencyResult:
        """Converges one claim: created when missing, updated when its spec no longer says what
        the application and environment want (class, params, placement), and its state read."""
        kind = CLAIM_KINDS[desired.provider]
        dep = application_pb2.Dependency(type=desired.type)
        api = self._api(kind)
        if api is None:
            return no_provider(desired.dependency, dep, f"is not configured ({kind.variable} is not set)")
        implementation = getattr(desired.spec, "implementation", "")
        status = deployment_pb2.DependencyStatus(name=desired.dependency, type=desired.type, claim=desired.name,
                                                 implementation=implementation)
        try:
            claim = await self._ensure(api, kind, deployment, desired)
        except UnimplementedError:
            return no_provider(desired.dependency, dep, "does not implement claims yet")
        except UnavailableError as error:
            return no_provider(desired.dependency, dep, f"is unavailable ({error.message})")
        if isinstance(claim, str):
            status.state, status.reason, status.message = PENDING, "Updating", claim
            return DependencyResult(status, None)
        if _is_ready(claim) and claim.generation == _observed(claim):
            status.state = READY_STATE
            status.reason = "Bound"
            outputs = claim.status.outputs
            return DependencyResult(
                status, DependencyOutputs(desired.type, dict(outputs.values), dict(outputs.secrets))
            )
        status.state = PENDING
        status.reason, status.message = _not_ready_reason(claim, "Claimed")
        return DependencyResult(status, None)

    def provider_missing(self, desired: claims.DesiredClaim) -> bool:
        return self._api(CLAIM_KINDS[desired.provider]) is None

    async def read_claim(self, desired: claims.DesiredClaim) -> Any | None:
        """The live claim, or None when it is missing or its provider cannot say (reads only)."""
        kind = CLAIM_KINDS[desired.provider]
        api = self._api(kind)
        if api is None:
            return None
        try:
            return await getattr(api, f"get_{kind.api}")(name=desired.name, timeout=5)
        except ApiError:
            return None

    async def _ensure(
        self, api: Any, kind: ClaimKind, deployment: deployment_pb2.Deployment, desired: claims.DesiredClaim
    ) -> Any:
        """The live claim after create-or-update; a sentence instead when the update is refused."""
        get = getattr(api, f"get_{kind.api}")
        try:
            live = await get(name=desired.name, timeout=5)
        except NotFoundError:
            message = kind.message(spec=desired.spec)
            try:
                return await getattr(api, f"create_{kind.api}")(
                    **{f"{kind.api}_id": names.last_segment(desired.name), kind.api: message},
                    request_id=f"delivery:{deployment.uid}:{desired.dependency}", timeout=5,
                )
            except AlreadyExistsError:
                return await get(name=desired.name, timeout=5)
        changed = claims.differs(desired.spec, live.spec)
        if not changed or live.HasField("delete_time"):
            return live
        wanted = kind.message(name=desired.name, etag=live.etag, spec=desired.spec)
        try:
            return await getattr(api, f"update_{kind.api}")(
                **{kind.api: wanted}, update_mask=field_mask_pb2.FieldMask(paths=["spec"]), timeout=5)
        except UnimplementedError:
            return (f"{desired.name} has a different {', '.join(changed)}, and the {kind.service} cannot update "
                    "claims yet")
        except AbortedError:
            return f"{desired.name} changed meanwhile; updating its {', '.join(changed)} again"

    async def application_dependency(
        self, deployment: deployment_pb2.Deployment, name: str, dep: application_pb2.Dependency
    ) -> DependencyResult:
        """An ``application`` dependency: resolved from the other app's deployment in the same
        environment (its published outputs), nothing claimed."""
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
        port = _port_name(outputs, component, str(params.get("port", "")))
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

    async def release_cluster(self, claim: str) -> str:
        """Deletes the cluster claim; '' once it is gone, else what it waits for."""
        api: Any = self._clusters().internal.cluster_claim
        if self._cluster_claims is not None:
            self._cluster_claims.forget(claim)  # its deletion is under way: what was read is over
        try:
            await api.delete_cluster_claim(name=claim, allow_missing=True)
            await api.get_cluster_claim(name=claim)
        except NotFoundError:
            return ""
        except ApiError as error:
            return f"{claim}: the cluster-manager cannot release it yet ({error.message})"
        return f"{claim}: the cluster-manager is releasing it"

    async def release_claim(self, claim: str) -> tuple[str, str]:
        """Deletes an addon or service claim. Returns ('', '') once it is gone, else the reason and
        a sentence saying what it waits for. A provider that is unavailable (or no longer
        configured) may still hold the claim's resources, so the claim is waited for, never
        forgotten; one that never implemented claims never made any."""
        kind = next(k for k in CLAIM_KINDS.values() if claim.startswith(k.collection + "/"))
        api = self._api(kind)
        if api is None:
            return "NoProvider", (f"{claim}: the {kind.service} is not configured ({kind.variable} is not set), so "
                                  "it cannot be released")
        try:
            await getattr(api, f"delete_{kind.api}")(name=claim, allow_missing=True, timeout=5)
            await getattr(api, f"get_{kind.api}")(name=claim, timeout=5)
        except NotFoundError:
            return "", ""
        except UnimplementedError:
            return "", ""
        except UnavailableError as error:
            return "ProviderUnavailable", f"{claim}: the {kind.service} is unavailable ({error.message})"
        except ApiError as error:
            return "ReleaseFailed", f"{claim}: {error.message}"
        return "Releasing", f"{claim}: the {kind.service} is releasing it"


def _port_name(outputs: dict[str, str], component: str, port: str) -> str:
    """A port given by number (Score's ``endpoint``) is the published port with that number."""
    if not port.isdigit() or f"{component}.{port}.port" in outputs:
        return port
    prefix = f"{component}."
    return next((key[len(prefix):-len(".port")] for key, value in sorted(outputs.items())
                 if key.startswith(prefix) and key.endswith(".port") and key.count(".") == 2 and value == port),
                port)
