"""The Kubernetes kinds every conformant cluster serves, and whether each is namespaced.

``kind: manifests`` components may contain these, or custom resources whose CRD is in the same
application; the registry refuses any other kind at apply (a typo would otherwise only surface
when the cluster refuses it), and delivery puts namespaced objects into the deployment's
namespace and refuses cluster-scoped ones where the environment does not allow them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# (apiVersion, kind) -> namespaced
BUILT_IN: Mapping[tuple[str, str], bool] = {
    ("v1", "ConfigMap"): True,
    ("v1", "Secret"): True,
    ("v1", "Service"): True,
    ("v1", "ServiceAccount"): True,
    ("v1", "PersistentVolumeClaim"): True,
    ("v1", "Pod"): True,
    ("v1", "LimitRange"): True,
    ("v1", "ResourceQuota"): True,
    ("v1", "Endpoints"): True,
    ("v1", "Namespace"): False,
    ("v1", "PersistentVolume"): False,
    ("apps/v1", "Deployment"): True,
    ("apps/v1", "StatefulSet"): True,
    ("apps/v1", "DaemonSet"): True,
    ("apps/v1", "ReplicaSet"): True,
    ("batch/v1", "Job"): True,
    ("batch/v1", "CronJob"): True,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): True,
    ("autoscaling/v1", "HorizontalPodAutoscaler"): True,
    ("policy/v1", "PodDisruptionBudget"): True,
    ("networking.k8s.io/v1", "Ingress"): True,
    ("networking.k8s.io/v1", "NetworkPolicy"): True,
    ("networking.k8s.io/v1", "IngressClass"): False,
    ("rbac.authorization.k8s.io/v1", "Role"): True,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): True,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): False,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): False,
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): False,
    ("storage.k8s.io/v1", "StorageClass"): False,
    ("scheduling.k8s.io/v1", "PriorityClass"): False,
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"): False,
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"): False,
}

CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def custom_kinds(crds: Iterable[Mapping[str, object]]) -> dict[tuple[str, str], bool]:
    """(apiVersion, kind) -> namespaced for every served version of these CRD objects."""
    kinds: dict[tuple[str, str], bool] = {}
    for crd in crds:
        spec = crd.get("spec")
        if not isinstance(spec, Mapping):
            continue
        names = spec.get("names")
        kind = names.get("kind") if isinstance(names, Mapping) else None
        versions = spec.get("versions")
        if not isinstance(kind, str) or not isinstance(versions, list):
            continue
        for version in versions:
            if isinstance(version, Mapping) and isinstance(version.get("name"), str):
                kinds[(f"{spec.get('group')}/{version['name']}", kind)] = spec.get("scope") != "Cluster"
    return kinds


def known_kinds(crds: Iterable[Mapping[str, object]] = ()) -> dict[tuple[str, str], bool]:
    """The built-in kinds and those the given CRD objects define."""
    return {**BUILT_IN, **custom_kinds(crds)}


def describe_known(kinds: Mapping[tuple[str, str], bool]) -> str:
    return ", ".join(sorted({kind for _, kind in kinds}))
