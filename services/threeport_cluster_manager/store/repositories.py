"""The resource repositories of the service, with the spec/status fields filters may use."""

from __future__ import annotations

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_pb2
from threeport_cluster_manager.reconcilers.conditions import CLAIM_FINALIZER
from threeport_cluster_manager.store.tables import ClusterClaimRow, ClusterRow
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.runtime import ServiceRuntime

Clusters = ResourceRepository[cluster_pb2.Cluster, ClusterRow]
Claims = ResourceRepository[cluster_claim_pb2.ClusterClaim, ClusterClaimRow]

CLUSTER_FILTER_FIELDS = {
    "spec.provider": "spec.provider",
    "spec.location": "spec.location",
    "spec.profile": "spec.profile",
    "status.region": "status.region",
}
CLAIM_FILTER_FIELDS = {
    "spec.owner": "spec.owner",
    "spec.cluster": "spec.cluster",
    "status.cluster": "status.cluster",
}


def clusters_of(runtime: ServiceRuntime) -> Clusters:
    return runtime.repository(ClusterRow, cluster_pb2.Cluster, filter_fields=CLUSTER_FILTER_FIELDS)


def claims_of(runtime: ServiceRuntime) -> Claims:
    return runtime.repository(
        ClusterClaimRow, cluster_claim_pb2.ClusterClaim, filter_fields=CLAIM_FILTER_FIELDS, owner_field="spec.owner",
        finalizers_on_create=(CLAIM_FINALIZER,),
    )
