"""The resource repositories of the service, with the spec/status fields filters may use."""

from __future__ import annotations

from threeport.infra.v1alpha1 import account_pb2, cluster_infra_pb2, managed_service_pb2, service_claim_pb2
from threeport_infra_provider.store.tables import AccountRow, ClusterInfraRow, ManagedServiceRow, ServiceClaimRow
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.runtime import ServiceRuntime

Accounts = ResourceRepository[account_pb2.Account, AccountRow]
ManagedServices = ResourceRepository[managed_service_pb2.ManagedService, ManagedServiceRow]
Claims = ResourceRepository[service_claim_pb2.ServiceClaim, ServiceClaimRow]
ClusterInfras = ResourceRepository[cluster_infra_pb2.ClusterInfra, ClusterInfraRow]

# A claim's secret outputs (passwords, connection strings) are encrypted in the row and only
# decrypted for the internal ServiceClaim RPCs.
CLAIM_SECRET_PATHS = ("status.outputs.secrets.*",)


def accounts_of(runtime: ServiceRuntime) -> Accounts:
    return runtime.repository(AccountRow, account_pb2.Account, filter_fields={"spec.provider": "spec.provider"})


def managed_services_of(runtime: ServiceRuntime) -> ManagedServices:
    return runtime.repository(
        ManagedServiceRow,
        managed_service_pb2.ManagedService,
        filter_fields={
            "spec.type": "spec.type",
            "spec.implementation": "spec.implementation",
            "spec.account": "spec.account",
            "spec.cluster": "spec.cluster",
        },
    )


def claims_of(runtime: ServiceRuntime) -> Claims:
    return runtime.repository(
        ServiceClaimRow,
        service_claim_pb2.ServiceClaim,
        filter_fields={
            "spec.owner": "spec.owner",
            "spec.type": "spec.type",
            "spec.account": "spec.account",
            "status.managed_service": "status.managed_service",
        },
        secret_paths=CLAIM_SECRET_PATHS,
        owner_field="spec.owner",
    )


def cluster_infras_of(runtime: ServiceRuntime) -> ClusterInfras:
    return runtime.repository(
        ClusterInfraRow,
        cluster_infra_pb2.ClusterInfra,
        filter_fields={"spec.account": "spec.account", "spec.cluster": "spec.cluster"},
    )
