"""How delivery observes its clusters: one watch-fed cache per cluster (``ClusterCache`` of the
runtime's Kubernetes layer) of every object carrying delivery's labels, of the kinds Threeport
renders, their Namespaces and their Pods.

A change the cache sees wakes the deployment that owns the object: its labels name the project
and the deployment (DESIGN §5), so no database read is needed. Rollout progress (a workload's
status, a Pod's container state) and drift (an object edited or deleted by someone) arrive this
way instead of by polling. Reconciles read live state from the cache for the kinds it holds.

A cluster's cache watches Namespaces and Pods from its first use, and each other kind from the
first reconcile whose releases use it (``observe``), as controller-runtime starts an informer
the first time a kind is asked for: each watch is a connection (~59 KB of delivery's memory over
TLS), and a two-component app uses 5-6 of the 15 kinds. A kind no release in the cluster uses
holds nothing of delivery's to observe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from threeport_runtime.kube.cache import ClusterCache, Kind
from threeport_runtime.kube.pool import KubePool
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.pipeline.live import ADDON_PRUNABLE, NAMESPACE, PRUNABLE

# Kinds outside this set (the custom resources of `manifests` and `helm` components) are listed
# from the API server. An addon kind the cluster does not serve yet is looked for again every 30 s.
CACHED_KINDS = (*PRUNABLE, *ADDON_PRUNABLE, NAMESPACE, ("v1", "Pod"))
# Watched from a cache's first use: every deployment has a namespace, and its workloads Pods.
ALWAYS_WATCHED = (NAMESPACE, ("v1", "Pod"))
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
        return self._pool.cache(cluster, CACHED_KINDS, SELECTOR, self._changed, start=ALWAYS_WATCHED,
                                index=names.DEPLOYMENT_LABEL)

    def _changed(self, _: str, obj: dict[str, Any]) -> None:
        if self._wake is not None and (deployment := owner(obj)):
            self._wake(deployment)


def observe(cache: ClusterCache, kinds: Iterable[Kind]) -> bool:
    """Starts watching those of ``kinds`` the cache may hold; whether the cache holds every one
    of them and the kinds always watched now (a kind just started is not listed yet)."""
    cacheable = [kind for kind in kinds if cache.covers(*kind)]
    cache.start(cacheable)
    return all(cache.holds(*kind) for kind in (*ALWAYS_WATCHED, *cacheable))
