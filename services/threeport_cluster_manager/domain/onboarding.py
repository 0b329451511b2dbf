"""What the platform installs in every cluster it manages, as server-side apply manifests.

A namespace for its own things, a service account the platform's controllers act as, and RBAC
that lets that account manage workloads. Every object carries the managed-by label, so people
and tools can tell what Threeport owns (DESIGN §5).
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "threeport-system"
SERVICE_ACCOUNT = "threeport-controller"
CLUSTER_ROLE = "threeport-controller"
MANAGED_BY = {"app.kubernetes.io/managed-by": "threeport"}


def _metadata(name: str, cluster: str, namespace: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {**MANAGED_BY, "threeport.io/cluster": cluster},
    }
    if namespace:
        metadata["namespace"] = namespace
    return metadata


def onboarding_manifests(cluster_id: str) -> list[dict[str, Any]]:
    """The objects to apply, in dependency order (the namespace first)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _metadata(NAMESPACE, cluster_id)},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _metadata(SERVICE_ACCOUNT, cluster_id, NAMESPACE),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _metadata(CLUSTER_ROLE, cluster_id),
            # Workload delivery and addon installation manage arbitrary kinds in app namespaces.
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _metadata(CLUSTER_ROLE, cluster_id),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CLUSTER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}],
        },
    ]

