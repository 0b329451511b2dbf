"""What runs in the cluster for a deployment: every object carrying its labels."""

from __future__ import annotations

from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.errors import NotFound
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.domain.diffing import ObjectKey, object_key
from threeport_workload_delivery.domain.rendering import Manifest

# What pruning and deletion look for, workloads first so Pods stop before their config goes.
PRUNABLE: tuple[tuple[str, str], ...] = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("networking.k8s.io/v1", "Ingress"),
)
# Kinds an addon brings (the metrics addon's CRD): looked for only where the cluster serves them.
ADDON_PRUNABLE: tuple[tuple[str, str], ...] = (("monitoring.coreos.com/v1", "ServiceMonitor"),)


async def live_objects(client: KubeClient, project: str, deployment: str) -> dict[ObjectKey, Manifest]:
    """Everything in the cluster carrying this deployment's labels, in any namespace."""
    selector = names.selector_for(project, deployment)
    found: dict[ObjectKey, Manifest] = {}
    for api_version, kind in (*PRUNABLE, ("v1", "Namespace")):
        for item in await client.list(api_version, kind, selector):
            found[object_key(item)] = item
    for api_version, kind in ADDON_PRUNABLE:
        try:
            items = await client.list(api_version, kind, selector)
        except NotFound:
            continue  # the addon that defines the kind is not installed: nothing of it to prune
        for item in items:
            found[object_key(item)] = item
    return found
