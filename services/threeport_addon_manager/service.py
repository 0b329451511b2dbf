"""Registers the addon-manager: repositories, the built-in catalog, servicers and controllers
(what wakes the controllers is declared in ``watches``)."""

from __future__ import annotations

from pathlib import Path

from threeport.addons.v1alpha1 import (
    addon_claim_pb2_grpc,
    addon_installation_pb2_grpc,
    addon_pb2_grpc,
    event_service_pb2_grpc,
)
from threeport.sdk import NotFoundError
from threeport_addon_manager import watches
from threeport_addon_manager.api.plan import ClaimPlanner
from threeport_addon_manager.api.servicers import (
    AddonClaimServicer,
    AddonInstallationServicer,
    AddonServicer,
    EventServicer,
)
from threeport_addon_manager.api.validation import check_addon, check_claim, check_installation
from threeport_addon_manager.catalog.seeding import seed_builtin_catalog
from threeport_addon_manager.config import AddonManagerConfig
from threeport_addon_manager.installers.charts import ChartCache
from threeport_addon_manager.reconcilers.addon import AddonReconciler
from threeport_addon_manager.reconcilers.claim import ClaimReconciler
from threeport_addon_manager.reconcilers.cloud_access import CloudAccess
from threeport_addon_manager.reconcilers.installation import InstallationReconciler
from threeport_addon_manager.reconcilers.profiles import ProfileSource
from threeport_addon_manager.store.repositories import addons_of, claims_of, installations_of
from threeport_addon_manager.store.tables import SCHEMA
from threeport_runtime.errors import NotFound
from threeport_runtime.kube.connection import Connection
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_runtime.runtime import ServiceDefinition, ServiceRuntime

PACKAGE = "threeport.addons.v1alpha1."


async def setup(runtime: ServiceRuntime, server: GrpcServer) -> None:
    config = AddonManagerConfig.from_env()
    addons = addons_of(runtime)
    claims = claims_of(runtime)
    installations = installations_of(runtime)
    clusters = runtime.service_client(config.clusters_backend)

    async def connection(cluster: str) -> Connection:
        try:
            credentials = await clusters.internal.cluster_credentials.get_cluster_credentials(name=cluster)
        except NotFoundError:
            raise NotFound(f"cluster {cluster!r} not found") from None
        return Connection.from_credentials(credentials)

    server.add_servicer(
        PACKAGE + "AddonService",
        addon_pb2_grpc.add_AddonServiceServicer_to_server,
        AddonServicer(StandardMethods(addons, runtime.redis, validate=check_addon), installations),
    )
    server.add_servicer(
        PACKAGE + "AddonInstallationService",
        addon_installation_pb2_grpc.add_AddonInstallationServiceServicer_to_server,
        AddonInstallationServicer(
            StandardMethods(installations, runtime.redis, validate=check_installation), installations
        ),
    )
    server.add_servicer(
        PACKAGE + "AddonClaimService",
        addon_claim_pb2_grpc.add_AddonClaimServiceServicer_to_server,
        AddonClaimServicer(
            StandardMethods(claims, runtime.redis, validate=check_claim), claims, ClaimPlanner(addons, installations)
        ),
    )
    server.add_servicer(
        PACKAGE + "EventService",
        event_service_pb2_grpc.add_EventServiceServicer_to_server,
        EventServicer(runtime.event_lister()),
    )

    await seed_builtin_catalog(addons)
    installation_reconciler = InstallationReconciler(
        installations,
        addons,
        claims,
        runtime.kube_pool(connection),
        ChartCache(),
        runtime.event_recorder("installation"),
        config,
        ProfileSource(runtime.service_client(config.registry_backend) if config.registry_backend else None),
        CloudAccess(runtime.service_client(config.infra_backend) if config.infra_backend else None),
    )
    addon_reconciler = AddonReconciler(addons, installations)
    runtime.controller(watches.addon_controller(addons, installations, addon_reconciler), addon_reconciler)
    claim_reconciler = ClaimReconciler(claims, addons, installations, runtime.event_recorder("claim"))
    installation_controller = runtime.controller(
        watches.installation_controller(installations, addons, installation_reconciler, runtime.settings.stream_prefix),
        installation_reconciler,
    )
    runtime.controller(watches.claim_controller(claims, installations, claim_reconciler), claim_reconciler)
    claim_reconciler.enqueue_installation = installation_controller.enqueue
    installation_reconciler.enqueue = installation_controller.enqueue


DEFINITION = ServiceDefinition(
    name="addon_manager", schema=SCHEMA, migrations_dir=Path(__file__).parent / "migrations", setup=setup
)
