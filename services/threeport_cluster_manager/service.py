"""Registers the cluster-manager: repositories, credential store, drivers, servicers and
controllers (what wakes the controllers is declared in ``watches``)."""

from __future__ import annotations

from pathlib import Path

from threeport.clusters.v1alpha1 import (
    cluster_claim_pb2_grpc,
    cluster_credentials_pb2_grpc,
    cluster_pb2_grpc,
    event_service_pb2_grpc,
)
from threeport_cluster_manager import watches
from threeport_cluster_manager.api.claims import ClusterClaimServicer
from threeport_cluster_manager.api.clusters import ClusterServicer
from threeport_cluster_manager.api.credentials import ClusterCredentialsServicer
from threeport_cluster_manager.api.events import EventServicer
from threeport_cluster_manager.api.validation import check_claim
from threeport_cluster_manager.config import ClusterManagerConfig
from threeport_cluster_manager.drivers.registry import Drivers
from threeport_cluster_manager.reconcilers.claim import ClaimReconciler
from threeport_cluster_manager.reconcilers.cluster import ClusterReconciler
from threeport_cluster_manager.store.credentials import CredentialStore
from threeport_cluster_manager.store.placement import PlacementReads
from threeport_cluster_manager.store.repositories import claims_of, clusters_of
from threeport_cluster_manager.store.tables import SCHEMA
from threeport_runtime.config import ConfigError
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_runtime.runtime import ServiceDefinition, ServiceRuntime

PACKAGE = "threeport.clusters.v1alpha1."


async def setup(runtime: ServiceRuntime, server: GrpcServer) -> None:
    config = ClusterManagerConfig.from_env()
    if runtime.cipher is None:
        raise ConfigError(
            "the cluster-manager stores cluster credentials encrypted: set THREEPORT_ENCRYPTION_KEYS "
            "or THREEPORT_ENCRYPTION_KEYS_FILE"
        )
    clusters = clusters_of(runtime)
    claims = claims_of(runtime)
    credentials = CredentialStore(runtime.db, runtime.cipher)
    infra = runtime.service_client(config.infra_backend) if config.infra_backend else None
    registry = runtime.service_client(config.registry_backend) if config.registry_backend else None
    drivers = Drivers(config, credentials, infra, registry)
    heartbeat = min(5.0, config.probe_interval)

    server.add_servicer(
        PACKAGE + "ClusterService",
        cluster_pb2_grpc.add_ClusterServiceServicer_to_server,
        ClusterServicer(
            clusters,
            claims,
            credentials,
            drivers,
            runtime.redis,
            probe_timeout=config.probe_timeout,
            heartbeat_interval=heartbeat,
        ),
    )
    server.add_servicer(
        PACKAGE + "ClusterClaimService",
        cluster_claim_pb2_grpc.add_ClusterClaimServiceServicer_to_server,
        ClusterClaimServicer(
            StandardMethods(claims, runtime.redis, validate=check_claim, heartbeat_interval=heartbeat)
        ),
    )
    server.add_servicer(
        PACKAGE + "ClusterCredentialsService",
        cluster_credentials_pb2_grpc.add_ClusterCredentialsServiceServicer_to_server,
        ClusterCredentialsServicer(clusters, drivers),
    )
    server.add_servicer(
        PACKAGE + "EventService",
        event_service_pb2_grpc.add_EventServiceServicer_to_server,
        EventServicer(runtime.event_lister()),
    )

    cluster_reconciler = ClusterReconciler(
        clusters, claims, credentials, drivers, runtime.event_recorder("cluster"), config,
        runtime.kube_pool(call_timeout=config.probe_timeout),
    )
    claim_reconciler = ClaimReconciler(
        claims, clusters, PlacementReads(runtime.db, clusters), drivers, runtime.event_recorder("cluster-claim")
    )
    cluster_controller = runtime.controller(watches.cluster_controller(clusters), cluster_reconciler)
    claim_spec = watches.claim_controller(claims, clusters)
    claim_controller = runtime.controller(claim_spec, claim_reconciler)
    cluster_reconciler.enqueue_claim = claim_controller.enqueue
    claim_reconciler.enqueue_cluster = cluster_controller.enqueue


def encrypted_stores(runtime: ServiceRuntime) -> list[CredentialStore]:
    """What ``python -m threeport_cluster_manager reencrypt`` rotates: the cluster credentials."""
    return [CredentialStore(runtime.db, runtime.cipher)] if runtime.cipher is not None else []


DEFINITION = ServiceDefinition(
    name="cluster_manager",
    schema=SCHEMA,
    migrations_dir=Path(__file__).parent / "migrations",
    setup=setup,
    encrypted_stores=encrypted_stores,
)
