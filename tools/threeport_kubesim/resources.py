"""The catalogue of resource types a simulated cluster serves: built-in kinds plus CRD-defined ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ScalePaths:
    """Where a resource keeps the numbers the /scale subresource exposes (JSON paths, dot-separated)."""

    spec_replicas: str = "spec.replicas"
    status_replicas: str = "status.replicas"
    label_selector: str | None = "status.selector"


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = False
    scale: ScalePaths | None = None
    # Whether metadata.generation is maintained (bumped when anything but metadata/status changes).
    has_generation: bool = False
    # Custom resources accept no strategic merge patch, exactly like the real server.
    custom: bool = False
    # For CRDs: the structural schema of this version, consulted for list semantics in apply.
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: objects live once per group+resource, whatever version they are served at."""
        return (self.group, self.resource)

    @property
    def verbs(self) -> list[str]:
        return ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


_ALL = ("all",)
_DEPLOY_SCALE = ScalePaths()

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",), has_status=True),
    ResourceType("", "v1", "pods", "Pod", True, ("po",), _ALL, has_status=True),
    ResourceType("", "v1", "services", "Service", True, ("svc",), _ALL, has_status=True),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "events", "Event", True, ("ev",)),
    ResourceType("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType("", "v1", "nodes", "Node", False, ("no",), has_status=True),
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), has_status=True),
    ResourceType("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), has_status=True),
    ResourceType("apps", "v1", "deployments", "Deployment", True, ("deploy",), _ALL, True, _DEPLOY_SCALE, True),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), _ALL, True, _DEPLOY_SCALE, True),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), _ALL, True, None, True),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), _ALL, True, _DEPLOY_SCALE, True),
    ResourceType("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    ResourceType("batch", "v1", "jobs", "Job", True, (), _ALL, True, None, True),
    ResourceType("batch", "v1", "cronjobs", "CronJob", True, ("cj",), _ALL, True, None, True),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), (), True, None, True),
    ResourceType("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False, has_generation=True),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",), has_generation=True),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        ("pdb",),
        has_status=True,
        has_generation=True,
    ),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        has_status=True,
        has_generation=True,
    ),
    ResourceType(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
        has_generation=True,
    ),
    ResourceType(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
        has_generation=True,
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceType("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",)),
    ResourceType(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        _ALL,
        True,
        None,
        True,
    ),
)

# Group versions listed first in discovery win when a client resolves a short name or kind.
PREFERRED_GROUP_ORDER = (
    "",
    "apps",
    "batch",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "policy",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "coordination.k8s.io",
    "storage.k8s.io",
    "autoscaling",
)


class ResourceRegistry:
    """Per-cluster set of served resource types; CRDs add and remove entries at runtime."""

    def __init__(self) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        for rtype in BUILTIN_TYPES:
            self.add(rtype)

    def add(self, rtype: ResourceType) -> None:
        self._by_path[(rtype.group, rtype.version, rtype.resource)] = rtype

    def remove_group_resource(self, group: str, resource: str) -> None:
        for key in [k for k in self._by_path if k[0] == group and k[2] == resource]:
            del self._by_path[key]

    def lookup(self, group: str, version: str, resource: str) -> ResourceType | None:
        return self._by_path.get((group, version, resource))

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        for rtype in self._by_path.values():
            if rtype.group == group and rtype.kind == kind:
                return rtype
        return None

    def for_api_version(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rtype in self._by_path.values():
            if rtype.group == group and rtype.version == version and rtype.kind == kind:
                return rtype
        return None

    def by_group_resource(self, group: str, resource: str) -> ResourceType | None:
        for rtype in self._by_path.values():
            if rtype.group == group and rtype.resource == resource:
                return rtype
        return None

    def all(self) -> list[ResourceType]:
        return list(self._by_path.values())

    def group_versions(self) -> dict[str, list[str]]:
        """Map each group to its served versions, built-in groups first in a stable order."""
        groups: dict[str, list[str]] = {}
        order = {g: i for i, g in enumerate(PREFERRED_GROUP_ORDER)}
        for rtype in sorted(self._by_path.values(), key=lambda r: (order.get(r.group, 100), r.group)):
            versions = groups.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [r for r in self._by_path.values() if r.group == group and r.version == version]
