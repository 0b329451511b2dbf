"""Wires the cluster-manager: repositories, credential store, drivers, servicers, controllers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from threeport.clusters.v1alpha1 import (
    cluster_claim_pb2_grpc,
    cluster_credentials_pb2_grpc,
    cluster_pb2_grpc,
    event_service_pb2_grpc,
)
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
from threeport_cluster_manager.store.repositories import claims_of, clusters_of
from threeport_cluster_manager.store.tables import SCHEMA
from threeport_runtime.config import ConfigError
from threeport_runtime.reconcile.controller import SPEC_AND_LIFECYCLE_CHANGES, Watch
from threeport_runtime.reconcile.status import stall_writer
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
    drivers = Drivers(config, credentials, runtime.settings.service_credential)
    heartbeat = min(5.0, config.probe_interval)

    cluster_servicer = ClusterServicer(
        clusters,
        claims,
        credentials,
        drivers,
        runtime.redis,
        probe_timeout=config.probe_timeout,
        heartbeat_interval=heartbeat,
    )
    claim_servicer = ClusterClaimServicer(
        StandardMethods(claims, runtime.redis, validate=check_claim, heartbeat_interval=heartbeat)
    )
    credentials_servicer = ClusterCredentialsServicer(clusters, drivers)
    event_servicer = EventServicer(runtime.event_lister())
    server.add_service(
        PACKAGE + "ClusterService",
        lambda s: cluster_pb2_grpc.add_ClusterServiceServicer_to_server(cluster_servicer, s),
    )
    server.add_service(
        PACKAGE + "ClusterClaimService",
        lambda s: cluster_claim_pb2_grpc.add_ClusterClaimServiceServicer_to_server(claim_servicer, s),
    )
    server.add_service(
        PACKAGE + "ClusterCredentialsService",
        lambda s: cluster_credentials_pb2_grpc.add_ClusterCredentialsServiceServicer_to_server(credentials_servicer, s),
    )
    server.add_service(
        PACKAGE + "EventService",
        lambda s: event_service_pb2_grpc.add_EventServiceServicer_to_server(event_servicer, s),
    )

    async def cluster_names() -> AsyncIterator[str]:
        async for name in clusters.iter_names():
            yield name

    async def claim_names() -> AsyncIterator[str]:
        async for name in claims.iter_names():
            yield name

    cluster_reconciler = ClusterReconciler(
        clusters, claims, credentials, drivers, runtime.event_recorder("cluster"), config
    )
    claim_reconciler = ClaimReconciler(claims, clusters, drivers, runtime.event_recorder("cluster-claim"))
    cluster_controller = runtime.controller(
        "clusters.cluster",
        cluster_reconciler,
        watches=[Watch(clusters.stream, changes=SPEC_AND_LIFECYCLE_CHANGES)],
        list_keys=cluster_names,
        on_permanent_error=stall_writer(clusters),
    )
    claim_controller = runtime.controller(
        "clusters.cluster_claim",
        claim_reconciler,
        watches=[
            Watch(claims.stream, changes=SPEC_AND_LIFECYCLE_CHANGES),
            # Cluster health and capacity decide placement and claim readiness.
            Watch(clusters.stream, keys=claim_reconciler.claims_to_revisit),
        ],
        list_keys=claim_names,
        on_permanent_error=stall_writer(claims),
    )
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
