"""What wakes the infra-provider's controllers (``For`` / ``Watches``).

- ``infra.managed_service`` reconciles ManagedServices; its own requeues poll a service being
  built and check a Ready one against what exists (drift).
- ``infra.service_claim`` reconciles ServiceClaims and watches ManagedServices: a service's
  readiness and outputs are its claims' (``ClaimReconciler.claims_of_service``).
- ``infra.cluster_infra`` reconciles ClusterInfras; its own requeues poll what AWS is building.
"""

from __future__ import annotations

from threeport_infra_provider.reconcilers.claim import ClaimReconciler
from threeport_infra_provider.store.repositories import Claims, ClusterInfras, ManagedServices
from threeport_runtime.reconcile.controller import Watch
from threeport_runtime.reconcile.spec import ControllerSpec, For


def managed_service_controller(services: ManagedServices) -> ControllerSpec:
    return ControllerSpec("infra.managed_service", for_=For.resource(services))


def claim_controller(claims: Claims, services: ManagedServices, reconciler: ClaimReconciler) -> ControllerSpec:
    return ControllerSpec(
        "infra.service_claim",
        for_=For.resource(claims),
        watches=[Watch(services.stream, keys=reconciler.claims_of_service)],
    )


def cluster_infra_controller(infras: ClusterInfras) -> ControllerSpec:
    return ControllerSpec("infra.cluster_infra", for_=For.resource(infras))
