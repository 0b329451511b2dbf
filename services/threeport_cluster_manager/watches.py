"""What wakes the cluster-manager's controllers (``For`` / ``Watches``).

- ``clusters.cluster`` reconciles Clusters; the probe interval is its own requeue.
- ``clusters.cluster_claim`` reconciles ClusterClaims and watches Clusters: a cluster's health
  and capacity decide placement and claim readiness; heartbeats do not (``ClaimsToRevisit``
  maps a cluster event to the claims it concerns).
"""

from __future__ import annotations

from threeport_cluster_manager.reconcilers.revisit import ClaimsToRevisit
from threeport_cluster_manager.store.repositories import Claims, Clusters
from threeport_runtime.reconcile.controller import Watch
from threeport_runtime.reconcile.spec import ControllerSpec, For


def cluster_controller(clusters: Clusters) -> ControllerSpec:
    return ControllerSpec("clusters.cluster", for_=For.resource(clusters))


def claim_controller(claims: Claims, clusters: Clusters) -> ControllerSpec:
    return ControllerSpec(
        "clusters.cluster_claim",
        for_=For.resource(claims),
        watches=[Watch(clusters.stream, keys=ClaimsToRevisit(claims, clusters))],
    )
