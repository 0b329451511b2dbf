"""Installation names and the order objects are applied and deleted in.

One managed installation per (addon, cluster): its id is derived from both, so two claims
reconciled at once on two replicas converge on the same installation (the loser's create fails
with AlreadyExists) instead of installing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from threeport_model import names

# Applied first: what other objects need to exist (CRDs before their resources, namespaces and
# accounts before the workloads that use them); webhooks and custom resources last.
FIRST = (
    "CustomResourceDefinition",
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "Role",
    "ClusterRoleBinding",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
)
LAST = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
BUILTIN_GROUPS = (
    "",
    "v1",
    "apps",
    "batch",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "policy",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "autoscaling",
    "storage.k8s.io",
    "coordination.k8s.io",
    "scheduling.k8s.io",
)


def installation_id(addon: str, cluster: str) -> str:
    """``<addon>-<cluster>`` when that is a valid id, otherwise shortened with a hash suffix."""
    addon_id = addon.rsplit("/", 1)[-1]
    cluster_id = cluster.rsplit("/", 1)[-1]
    candidate = f"{addon_id}-{cluster_id}"
    if len(candidate) <= names.MAX_LABEL_LENGTH:
        return candidate
    digest = hashlib.sha256(candidate.encode()).hexdigest()[:8]
    return f"{candidate[: names.MAX_LABEL_LENGTH - 9].rstrip('-')}-{digest}"


def installation_name(addon: str, cluster: str) -> str:
    return f"addonInstallations/{installation_id(addon, cluster)}"


def _group(obj: Mapping[str, Any]) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def apply_rank(obj: Mapping[str, Any]) -> int:
    """Sort key: lower ranks are applied first (and deleted last)."""
    kind = str(obj.get("kind", ""))
    if kind in FIRST:
        return FIRST.index(kind)
    if kind in LAST:
        return len(FIRST) + 3
    if _group(obj) not in BUILTIN_GROUPS:
        return len(FIRST) + 2  # a custom resource: after the workloads that serve its CRD
    return len(FIRST) + 1


def object_key(obj: Mapping[str, Any]) -> str:
    """``kind/namespace/name`` (``kind//name`` for cluster-scoped objects), as status lists them."""
    metadata = obj.get("metadata") or {}
    return (
        f"{obj.get('apiVersion', '')}|{obj.get('kind', '')}/{metadata.get('namespace', '')}/{metadata.get('name', '')}"
    )


def parse_object_key(key: str) -> dict[str, Any]:
    """The object reference an ``object_key`` names, for reading or deleting it."""
    api_version, _, rest = key.partition("|")
    kind, namespace, name = rest.split("/", 2)
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}
