"""How each list field merges: keyed map, set of scalars, or atomic (replaced whole).

Strategic merge patch and server-side apply both need this; kube-apiserver reads it from Go struct
tags (patchMergeKey, listType). We encode the subset the project's manifests use, by field path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threeport_kubesim.resources import ResourceType


@dataclass(frozen=True, slots=True)
class ListSemantics:
    kind: str  # "map", "set" or "atomic"
    keys: tuple[str, ...] = ()


ATOMIC = ListSemantics("atomic")
SET = ListSemantics("set")

_CONTAINER_LISTS = {"containers", "initContainers", "ephemeralContainers"}
# Keyed lists recognised by their own field name wherever they appear in a built-in object.
_KEYED_BY_NAME_ANYWHERE = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "resourceClaims": ("name",),
    "topologySpreadConstraints": ("topologyKey",),
    "ownerReferences": ("uid",),
    "conditions": ("type",),
    "volumes": ("name",),
}


def builtin_list_semantics(kind: str, path: tuple[str, ...]) -> ListSemantics:
    if not path:
        return ATOMIC
    last = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    if path == ("metadata", "finalizers"):
        return SET
    if last == "ports":
        if parent in _CONTAINER_LISTS:
            return ListSemantics("map", ("containerPort",))
        if kind == "Service" and path == ("spec", "ports"):
            return ListSemantics("map", ("port",))
        return ATOMIC
    if last == "volumes" and parent != "spec":
        return ATOMIC
    keys = _KEYED_BY_NAME_ANYWHERE.get(last)
    if keys is not None:
        return ListSemantics("map", keys)
    return ATOMIC


def _schema_at(schema: dict[str, Any] | None, path: tuple[str, ...]) -> dict[str, Any] | None:
    node = schema
    for field_name in path:
        if node is None:
            return None
        if node.get("type") == "array":
            node = node.get("items")
            if node is None:
                return None
        props = node.get("properties")
        if isinstance(props, dict) and field_name in props:
            node = props[field_name]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node


def list_semantics(rtype: ResourceType, path: tuple[str, ...]) -> ListSemantics:
    """Semantics of the list at `path` (field names only, list positions omitted)."""
    if path and path[0] == "metadata":
        return builtin_list_semantics(rtype.kind, path)
    if not rtype.custom:
        return builtin_list_semantics(rtype.kind, path)
    node = _schema_at(rtype.schema, path)
    if node is None:
        return ATOMIC
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "map":
        return ListSemantics("map", tuple(node.get("x-kubernetes-list-map-keys") or ()))
    if list_type == "set":
        return SET
    return ATOMIC
