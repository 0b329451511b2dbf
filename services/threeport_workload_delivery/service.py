"""Registers workload-delivery: repositories, backends, servicers and controllers (what wakes
the controllers is declared in ``watches``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from threeport.delivery.v1alpha1 import (
    deployment_pb2,
    deployment_pb2_grpc,
    event_service_pb2_grpc,
    registry_credential_pb2,
    registry_credential_pb2_grpc,
    release_pb2_grpc,
    secret_pb2,
    secret_pb2_grpc,
)
from threeport_runtime import helm
from threeport_runtime.config import ConfigError
from threeport_runtime.db.secret_fields import SealedFieldStore
from threeport_runtime.reencrypt import EncryptedStore
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_runtime.runtime import ServiceDefinition, ServiceRuntime
from threeport_workload_delivery import watches
from threeport_workload_delivery.api import servicers
from threeport_workload_delivery.api.actions import Actions
from threeport_workload_delivery.api.logs import LogStreamer
from threeport_workload_delivery.api.override_checks import OverrideChecks
from threeport_workload_delivery.api.plan import Planner
from threeport_workload_delivery.api.secrets import (
    RegistryCredentialServicer,
    SecretServicer,
    check_registry_credential,
    check_secret,
)
from threeport_workload_delivery.api.validation import check_deployment
from threeport_workload_delivery.backends import Backends
from threeport_workload_delivery.config import DeliveryConfig
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.pipeline.claims import Claimer
from threeport_workload_delivery.pipeline.namespaces import NamespaceGuard
from threeport_workload_delivery.pipeline.observed import ClusterObserver
from threeport_workload_delivery.pipeline.secret_inputs import SecretSources
from threeport_workload_delivery.reconcilers.deployment import DeploymentReconciler
from threeport_workload_delivery.remote_reads import CachedRegistryReads, DeliveryCaches, Listings, project_parent
from threeport_workload_delivery.store.namespaces import NamespaceClaims
from threeport_workload_delivery.store.releases import ReleaseStore
from threeport_workload_delivery.store.sources import application_environments
from threeport_workload_delivery.store.tables import SCHEMA, DeploymentRow, RegistryCredentialRow, SecretRow

FILTERS = {"spec.application": "spec.application", "spec.environment": "spec.environment"}
PACKAGE = "threeport.delivery.v1alpha1."
SECRET_PATHS = ("spec.value",)
CREDENTIAL_PATHS = ("spec.password",)


async def setup(runtime: ServiceRuntime, server: GrpcServer) -> None:
    config = DeliveryConfig.from_env()
    if not config.registry or not config.clusters:
        raise ConfigError("THREEPORT_BACKEND_REGISTRY and THREEPORT_BACKEND_CLUSTERS must be set (host:port)")
    backends = Backends.connect(config, runtime)
    deployments = runtime.repository(DeploymentRow, deployment_pb2.Deployment, filter_fields=FILTERS,
                                     finalizers_on_create=(names.FINALIZER,))
    releases = ReleaseStore(runtime.db, runtime.page_tokens, runtime.outbox)
    methods = StandardMethods(deployments, runtime.redis, validate=check_deployment)
    pool = runtime.kube_pool(backends.cluster_connection)
    claimer = Claimer(backends, deployments.find)
    # The reconciler reads other services' resources through caches fed by their change events;
    # plans and actions (asked for by people, right after a change) read them fresh.
    caches = DeliveryCaches.sized(config.cache_entries)
    cached_claimer = Claimer(backends, deployments.find, caches.cluster_claims)
    prefix = runtime.settings.stream_prefix

    charts = helm.ChartCache()  # one download per chart version, shared by reconciles and plans
    namespace_claims = NamespaceClaims(runtime.db)
    # Without encryption keys there is nowhere safe to keep secret values: the two services
    # refuse, and a deployment that needs a secret says so.
    secrets = runtime.repository(SecretRow, secret_pb2.Secret, secret_paths=SECRET_PATHS) if runtime.cipher else None
    credentials = runtime.repository(RegistryCredentialRow, registry_credential_pb2.RegistryCredential,
                                     secret_paths=CREDENTIAL_PATHS) if runtime.cipher else None
    sources = SecretSources(secrets, credentials)
    observer = ClusterObserver(pool)  # one watch-fed cache per cluster, started when first needed
    reconciler = DeploymentReconciler(
        deployments, releases, backends.registry, cached_claimer, pool, runtime.event_recorder("deployment"), config,
        NamespaceGuard(namespace_claims), sources, charts, observer,
        reads=CachedRegistryReads(backends.registry, caches),
    )

    async def projects() -> AsyncIterator[str]:
        """The projects a resync lists other services' resources of: the deployments' and the caches'."""
        async for name in deployments.iter_names():
            yield project_parent(name)
        for project in caches.projects():
            yield project

    feed = caches.feed(prefix, Listings(backends.registry, backends.clusters, projects,
                                        lambda: application_environments(runtime.db)))
    controller = runtime.controller(
        feed.wire(watches.deployment_controller(deployments, releases.stream, prefix)), reconciler
    )
    observer.wake_with(controller.wake)
    runtime.run_in_background("delivery cache feed", lambda: feed.follow(runtime.redis))

    actions = Actions(methods, releases, backends.registry)
    planner = Planner(methods, releases, backends.registry, backends, claimer, pool, sources, charts)
    server.add_servicer(
        PACKAGE + "DeploymentService",
        deployment_pb2_grpc.add_DeploymentServiceServicer_to_server,
        servicers.DeploymentServicer(methods, actions, planner, namespace_claims, OverrideChecks(backends.registry),
                                     LogStreamer(methods, pool)),
    )
    server.add_servicer(
        PACKAGE + "SecretService",
        secret_pb2_grpc.add_SecretServiceServicer_to_server,
        SecretServicer(StandardMethods(secrets, runtime.redis, validate=check_secret) if secrets else None),
    )
    server.add_servicer(
        PACKAGE + "RegistryCredentialService",
        registry_credential_pb2_grpc.add_RegistryCredentialServiceServicer_to_server,
        RegistryCredentialServicer(StandardMethods(credentials, runtime.redis, validate=check_registry_credential)
                                   if credentials else None),
    )
    server.add_servicer(
        PACKAGE + "ReleaseService",
        release_pb2_grpc.add_ReleaseServiceServicer_to_server,
        servicers.ReleaseServicer(releases),
    )
    server.add_servicer(
        PACKAGE + "EventService",
        event_service_pb2_grpc.add_EventServiceServicer_to_server,
        servicers.EventServicer(runtime.event_lister()),
    )


def encrypted_stores(runtime: ServiceRuntime) -> list[EncryptedStore]:
    """What ``python -m threeport_workload_delivery reencrypt`` rotates."""
    if runtime.cipher is None:
        return []
    return [SealedFieldStore(runtime.db, runtime.cipher, SecretRow, SECRET_PATHS, "app secrets"),
            SealedFieldStore(runtime.db, runtime.cipher, RegistryCredentialRow, CREDENTIAL_PATHS,
                             "registry credentials' passwords")]


DEFINITION = ServiceDefinition(
    name="workload_delivery", schema=SCHEMA, migrations_dir=Path(__file__).parent / "migrations", setup=setup,
    encrypted_stores=encrypted_stores,
)
