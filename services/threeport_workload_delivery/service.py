"""Wires workload-delivery: repositories, backends, servicers and controllers.

Controllers:

- ``delivery.deployment``: the Deployment reconciler; woken by deployment changes, by changes
  to applications, environments and builds (registry streams; a build wakes the deployments of
  its application, which derive their images from the newest matching build themselves), by
  approvals (the Release stream, UPDATED) and by
  cluster claim changes (cluster-manager stream), and resynced periodically (which is also what
  corrects drift and what makes a lost build event cost latency, never a rollout).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from threeport.common.v1alpha1 import change_event_pb2
from threeport.delivery.v1alpha1 import (
    deployment_pb2,
    deployment_pb2_grpc,
    event_service_pb2_grpc,
    release_pb2_grpc,
)
from threeport.sdk import ApiError, NotFoundError
from threeport_runtime.bus.streams import resource_stream
from threeport_runtime.config import ConfigError
from threeport_runtime.errors import NotFound
from threeport_runtime.reconcile.controller import SPEC_AND_LIFECYCLE_CHANGES, Watch
from threeport_runtime.reconcile.status import stall_writer
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_runtime.runtime import ServiceDefinition, ServiceRuntime
from threeport_workload_delivery.api import servicers
from threeport_workload_delivery.api.actions import Actions
from threeport_workload_delivery.api.plan import Planner
from threeport_workload_delivery.api.validation import check_deployment
from threeport_workload_delivery.backends import Backends
from threeport_workload_delivery.config import DeliveryConfig
from threeport_workload_delivery.k8s.pool import ClientPool
from threeport_workload_delivery.pipeline.claims import Claimer
from threeport_workload_delivery.reconcilers.deployment import DeploymentReconciler
from threeport_workload_delivery.store.releases import ReleaseStore
from threeport_workload_delivery.store.tables import SCHEMA, DeploymentRow

FILTERS = {"spec.application": "spec.application", "spec.environment": "spec.environment"}
CHANGED = frozenset({change_event_pb2.CHANGE_TYPE_UPDATED, change_event_pb2.CHANGE_TYPE_CREATED})
# A build is reported (CREATED), then the registry records the environments it matches.
BUILD_CHANGES = frozenset({change_event_pb2.CHANGE_TYPE_CREATED, change_event_pb2.CHANGE_TYPE_STATUS_CHANGED})


def registrar(add_to_server: Callable[[Any, Any], None], servicer: Any) -> Callable[[Any], None]:
    def register(grpc_server: Any) -> None:
        add_to_server(servicer, grpc_server)

    return register


async def setup(runtime: ServiceRuntime, server: GrpcServer) -> None:
    config = DeliveryConfig.from_env()
    if not config.registry or not config.clusters:
        raise ConfigError("THREEPORT_BACKEND_REGISTRY and THREEPORT_BACKEND_CLUSTERS must be set (host:port)")
    backends = Backends.connect(config, runtime.settings)
    assert backends.registry is not None and backends.clusters is not None
    registry, clusters = backends.registry, backends.clusters
    deployments = runtime.repository(DeploymentRow, deployment_pb2.Deployment, filter_fields=FILTERS)
    releases = ReleaseStore(runtime.db, runtime.page_tokens, runtime.outbox)
    methods = StandardMethods(deployments, runtime.redis, validate=check_deployment)

    async def find_deployment(name: str) -> deployment_pb2.Deployment | None:
        try:
            return await deployments.get(name)
        except NotFound:
            return None

    async def credentials(cluster: str) -> Any:
        return await clusters.internal.cluster_credentials.get_cluster_credentials(name=cluster)

    pool = ClientPool(credentials)
    claimer = Claimer(backends, find_deployment)
    reconciler = DeploymentReconciler(
        deployments, releases, registry, claimer, pool, runtime.event_recorder("deployment"), config
    )
    prefix = runtime.settings.stream_prefix

    async def deployments_where(field: str, event: change_event_pb2.ChangeEvent) -> list[str]:
        # projects/P/applications/A (or environments/E) -> deployments of P with that spec field.
        parts = event.name.split("/")
        found: list[str] = []
        token = ""
        while True:
            page, token = await deployments.list(
                parent="/".join(parts[:2]), filter_text=f'{field} = "{parts[3]}"', page_size=1000, page_token=token
            )
            found += [d.name for d in page]
            if not token:
                return found

    async def by_application(event: change_event_pb2.ChangeEvent) -> list[str]:
        return await deployments_where("spec.application", event)

    async def by_environment(event: change_event_pb2.ChangeEvent) -> list[str]:
        return await deployments_where("spec.environment", event)

    async def by_build(event: change_event_pb2.ChangeEvent) -> list[str]:
        # projects/P/applications/A/builds/B -> the deployments of A.
        return await deployments_where("spec.application", event)

    async def by_claim_owner(event: change_event_pb2.ChangeEvent) -> list[str]:
        try:
            claim = await clusters.internal.cluster_claim.get_cluster_claim(name=event.name)
        except (NotFoundError, ApiError):
            return []
        owner = claim.spec.owner
        return [owner] if owner.startswith("projects/") and "/deployments/" in owner else []

    async def release_owner(event: change_event_pb2.ChangeEvent) -> list[str]:
        # projects/P/deployments/D/releases/N -> the deployment (an approval to roll out).
        return [event.name.rsplit("/releases/", 1)[0]]

    async def names() -> AsyncIterator[str]:
        async for name in deployments.iter_names():
            yield name

    runtime.controller(
        "delivery.deployment",
        reconciler,
        watches=[
            Watch(deployments.stream, changes=SPEC_AND_LIFECYCLE_CHANGES),
            Watch(releases.stream, keys=release_owner, changes=frozenset({change_event_pb2.CHANGE_TYPE_UPDATED})),
            Watch(resource_stream(prefix, "threeport.registry.v1alpha1.Application"), keys=by_application,
                  changes=CHANGED),
            Watch(resource_stream(prefix, "threeport.registry.v1alpha1.Environment"), keys=by_environment,
                  changes=CHANGED),
            Watch(resource_stream(prefix, "threeport.registry.v1alpha1.Build"), keys=by_build,
                  changes=BUILD_CHANGES),
            Watch(resource_stream(prefix, "threeport.clusters.v1alpha1.ClusterClaim"), keys=by_claim_owner,
                  changes=frozenset({change_event_pb2.CHANGE_TYPE_STATUS_CHANGED})),
        ],
        list_keys=names,
        on_permanent_error=stall_writer(deployments),
    )
    actions = Actions(methods, releases, registry)
    planner = Planner(methods, releases, registry, backends, claimer, pool)
    registrations: list[tuple[str, Callable[[Any, Any], None], Any]] = [
        ("DeploymentService", deployment_pb2_grpc.add_DeploymentServiceServicer_to_server,
         servicers.DeploymentServicer(methods, actions, planner)),
        ("ReleaseService", release_pb2_grpc.add_ReleaseServiceServicer_to_server,
         servicers.ReleaseServicer(releases)),
        ("EventService", event_service_pb2_grpc.add_EventServiceServicer_to_server,
         servicers.EventServicer(runtime.event_lister())),
    ]
    for service_name, add_to_server, servicer in registrations:
        server.add_service(f"threeport.delivery.v1alpha1.{service_name}", registrar(add_to_server, servicer))


DEFINITION = ServiceDefinition(
    name="workload_delivery", schema=SCHEMA, migrations_dir=Path(__file__).parent / "migrations", setup=setup
)
