"""How delivery observes its clusters: one watch-fed cache per cluster (``ClusterCache`` of the
runtime's Kubernetes layer) of every object carrying delivery's labels, of the kinds Threeport
renders, their Namespaces and their Pods.

A change the cache sees wakes the deployment that owns the object: its labels name the project
and the deployment (DESIGN §5), so no database read is needed. Rollout progress (a workload's
status, a Pod's container state) and drift (an object edited or deleted by someone) arrive this
way instead of by polling. Reconciles read live state from the cache while it is synced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from threeport_runtime.kube.cache import ClusterCache
from threeport_runtime.kube.pool import KubePool
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.pipeline.live import ADDON_PRUNABLE, PRUNABLE

# Kinds outside this set (the custom resources of `manifests` and `helm` components) are listed
# from the API server. An addon kind the cluster does not serve yet is looked for again every 30 s.
CACHED_KINDS = (*PRUNABLE, *ADDON_PRUNABLE, ("v1", "Namespace"), ("v1", "Pod"))
# Objects of every deployment: the project and deployment labels must be there (any value).
SELECTOR = f"{names.MANAGED_BY}=threeport,{names.PROJECT_LABEL},{names.DEPLOYMENT_LABEL}"


def owner(obj: dict[str, Any]) -> str:
    """The deployment an object's labels name (``projects/P/deployments/D``), or ""."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    project, deployment = labels.get(names.PROJECT_LABEL), labels.get(names.DEPLOYMENT_LABEL)
    return f"projects/{project}/deployments/{deployment}" if project and deployment else ""


class ClusterObserver:
    """Gives the cache of a cluster (started on first use) and turns its changes into wake-ups."""

    def __init__(self, pool: KubePool):
        self._pool = pool
        self._wake: Callable[[str], None] | None = None

    def wake_with(self, enqueue: Callable[[str], None]) -> None:
        """Where the owners of changed objects go (the controller's queue)."""
        self._wake = enqueue

    def cache(self, cluster: str) -> ClusterCache:
        return self._pool.cache(cluster, CACHED_KINDS, SELECTOR, self._changed)

    def _changed(self, _: str, obj: dict[str, Any]) -> None:
        if self._wake is not None and (deployment := owner(obj)):
            self._wake(deployment)
