"""Registers the infra-provider: repositories, sealed secrets, implementations, servicers and
controllers (what wakes the controllers is declared in ``watches``)."""

from __future__ import annotations

from pathlib import Path

from threeport.infra.v1alpha1 import (
    account_credentials_pb2_grpc,
    account_pb2_grpc,
    cluster_infra_pb2_grpc,
    event_service_pb2_grpc,
    managed_service_pb2_grpc,
    service_claim_pb2_grpc,
)
from threeport_infra_provider import watches
from threeport_infra_provider.api.accounts import AccountServicer
from threeport_infra_provider.api.credentials import AccountCredentialsServicer
from threeport_infra_provider.api.plan import ClaimPlanner
from threeport_infra_provider.api.resources import (
    ClusterInfraServicer,
    EventServicer,
    ManagedServiceServicer,
    ServiceClaimServicer,
)
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.config import InfraConfig
from threeport_infra_provider.domain.validation import check_claim, check_cluster_infra, check_managed_service
from threeport_infra_provider.implementations.registry import implementations
from threeport_infra_provider.reconcilers.claim import ClaimReconciler
from threeport_infra_provider.reconcilers.cluster_infra import ClusterInfraReconciler
from threeport_infra_provider.reconcilers.managed_service import ManagedServiceReconciler
from threeport_infra_provider.store.claim_secrets import ClaimOutputSecrets
from threeport_infra_provider.store.repositories import (
    accounts_of,
    claims_of,
    cluster_infras_of,
    managed_services_of,
)
from threeport_infra_provider.store.sealed import SealedSecrets
from threeport_infra_provider.store.tables import SCHEMA
from threeport_runtime.config import ConfigError
from threeport_runtime.kube.connection import Connection
from threeport_runtime.reencrypt import EncryptedStore
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_runtime.runtime import ServiceDefinition, ServiceRuntime

PACKAGE = "threeport.infra.v1alpha1."


async def setup(runtime: ServiceRuntime, server: GrpcServer) -> None:
    config = InfraConfig.from_env()
    if runtime.cipher is None:
        raise ConfigError(
            "the infra-provider stores account credentials and generated passwords encrypted: set "
            "THREEPORT_ENCRYPTION_KEYS or THREEPORT_ENCRYPTION_KEYS_FILE"
        )
    accounts = accounts_of(runtime)
    services = managed_services_of(runtime)
    claims = claims_of(runtime)
    infras = cluster_infras_of(runtime)
    sealed = SealedSecrets(runtime.db, runtime.cipher)
    directory = AccountDirectory(accounts, sealed, config.aws_timeout)
    pool = None
    if config.clusters_backend:
        clusters = runtime.service_client(config.clusters_backend)

        async def connection(cluster: str) -> Connection:
            found = await clusters.internal.cluster_credentials.get_cluster_credentials(name=cluster)
            return Connection.from_credentials(found)

        pool = runtime.kube_pool(connection)

    offered = implementations(pool, directory, infras)

    server.add_servicer(
        PACKAGE + "AccountService",
        account_pb2_grpc.add_AccountServiceServicer_to_server,
        AccountServicer(directory, StandardMethods(accounts, runtime.redis), sealed, (services, claims, infras)),
    )
    server.add_servicer(
        PACKAGE + "AccountCredentialsService",
        account_credentials_pb2_grpc.add_AccountCredentialsServiceServicer_to_server,
        AccountCredentialsServicer(directory),
    )
    server.add_servicer(
        PACKAGE + "ManagedServiceService",
        managed_service_pb2_grpc.add_ManagedServiceServiceServicer_to_server,
        ManagedServiceServicer(
            StandardMethods(services, runtime.redis, validate=check_managed_service), claims, offered
        ),
    )
    server.add_servicer(
        PACKAGE + "ServiceClaimService",
        service_claim_pb2_grpc.add_ServiceClaimServiceServicer_to_server,
        ServiceClaimServicer(
            StandardMethods(claims, runtime.redis, validate=check_claim),
            offered,
            ClaimPlanner(claims, services, directory, offered),
        ),
    )
    server.add_servicer(
        PACKAGE + "ClusterInfraService",
        cluster_infra_pb2_grpc.add_ClusterInfraServiceServicer_to_server,
        ClusterInfraServicer(StandardMethods(infras, runtime.redis, validate=check_cluster_infra), directory),
    )
    server.add_servicer(
        PACKAGE + "EventService",
        event_service_pb2_grpc.add_EventServiceServicer_to_server,
        EventServicer(runtime.event_lister()),
    )

    service_reconciler = ManagedServiceReconciler(
        services,
        sealed,
        implementations(pool, directory, infras),
        runtime.event_recorder("managed-service"),
        poll=config.poll,
        drift_check=config.drift_check,
    )
    runtime.controller(watches.managed_service_controller(services), service_reconciler)
    claim_reconciler = ClaimReconciler(claims, services, sealed, directory, runtime.event_recorder("service-claim"))
    runtime.controller(watches.claim_controller(claims, services, claim_reconciler), claim_reconciler)
    infra_reconciler = ClusterInfraReconciler(
        infras, directory, runtime.event_recorder("cluster-infra"), poll=config.poll
    )
    runtime.controller(watches.cluster_infra_controller(infras), infra_reconciler)


def encrypted_stores(runtime: ServiceRuntime) -> list[EncryptedStore]:
    """What ``python -m threeport_infra_provider reencrypt`` rotates."""
    if runtime.cipher is None:
        return []
    return [SealedSecrets(runtime.db, runtime.cipher), ClaimOutputSecrets(runtime.db, runtime.cipher)]


DEFINITION = ServiceDefinition(
    name="infra_provider",
    schema=SCHEMA,
    migrations_dir=Path(__file__).parent / "migrations",
    setup=setup,
    encrypted_stores=encrypted_stores,
)
