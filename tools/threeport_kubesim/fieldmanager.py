"""Field ownership (metadata.managedFields) and server-side apply.

An object is flattened into leaf paths made of FieldsV1 path elements (`f:name`, `k:{"name":"x"}`,
`v:"x"`, and `.` for "the list item itself"). Each manager owns a set of such paths. Updates move
ownership of the fields they change to their manager; apply computes conflicts against other
owners whose value differs, merges the applied configuration into the live object and removes
fields the applier stopped declaring when nobody else owns them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from threeport_kubesim.errors import ApiError
from threeport_kubesim.listsemantics import list_semantics
from threeport_kubesim.meta import clone
from threeport_kubesim.resources import ResourceType

Path = tuple[str, ...]
_MISSING = object()
KUBECTL_MANAGER = "kubectl"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# Top-level parts of an object that stay even when an applier stops declaring anything in them.
_NEVER_REMOVED = {("f:metadata",), ("f:spec",), ("f:status",)}

# Identity and bookkeeping fields are never owned by anyone.
_UNOWNED_METADATA = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "generateName",
}


@dataclass(slots=True)
class ManagerEntry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    subresource: str
    fields: set[Path]

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.fields),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _scoped(rtype: ResourceType, obj: dict[str, Any], subresource: str) -> dict[str, Any]:
    """The part of an object a request may own: the status subresource owns status only."""
    if subresource == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    scoped = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if rtype.has_status:
        scoped.pop("status", None)
    metadata = scoped.get("metadata")
    if isinstance(metadata, dict):
        scoped["metadata"] = {k: v for k, v in metadata.items() if k not in _UNOWNED_METADATA}
        if not scoped["metadata"]:
            del scoped["metadata"]
    return scoped


def item_element(item: Any, keys: tuple[str, ...]) -> str:
    if isinstance(item, dict):
        return "k:" + json.dumps({k: item[k] for k in keys if k in item}, separators=(",", ":"))
    return "v:" + json.dumps(item, separators=(",", ":"))


def flatten(rtype: ResourceType, obj: dict[str, Any], subresource: str = "") -> dict[Path, Any]:
    """Map every owned leaf path of `obj` to its value (list items map their own marker to None)."""
    leaves: dict[Path, Any] = {}
    _walk(rtype, _scoped(rtype, obj, subresource), (), (), leaves)
    return leaves


def _walk(rtype: ResourceType, node: Any, schema_path: tuple[str, ...], path: Path, leaves: dict[Path, Any]) -> None:
    if isinstance(node, dict):
        if not node and path:
            leaves[path] = {}
            return
        for key, value in node.items():
            _walk(rtype, value, (*schema_path, key), (*path, "f:" + key), leaves)
        return
    if isinstance(node, list):
        semantics = list_semantics(rtype, schema_path)
        if semantics.kind == "map" and semantics.keys and all(isinstance(i, dict) for i in node):
            for item in node:
                element = (*path, item_element(item, semantics.keys))
                leaves[(*element, ".")] = None
                for key, value in item.items():
                    _walk(rtype, value, (*schema_path, key), (*element, "f:" + key), leaves)
            return
        if semantics.kind == "set" and not any(isinstance(i, dict | list) for i in node):
            for item in node:
                leaves[(*path, item_element(item, ()))] = item
            return
    leaves[path] = node


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for element in path:
            node = node.setdefault(element, {})
    return root


def from_fields_v1(fields: Any, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    if not isinstance(fields, dict):
        return paths
    for element, child in fields.items():
        path = (*prefix, element)
        if isinstance(child, dict) and child:
            paths |= from_fields_v1(child, path)
        else:
            paths.add(path)
    return paths


def read_entries(obj: dict[str, Any] | None) -> list[ManagerEntry]:
    entries: list[ManagerEntry] = []
    for raw in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if not isinstance(raw, dict) or not raw.get("manager"):
            continue
        entries.append(
            ManagerEntry(
                raw["manager"],
                raw.get("operation", "Update"),
                raw.get("apiVersion", ""),
                raw.get("time", ""),
                raw.get("subresource", ""),
                from_fields_v1(raw.get("fieldsV1")),
            )
        )
    return entries


def write_entries(obj: dict[str, Any], entries: list[ManagerEntry]) -> None:
    kept = [e.to_json() for e in entries if e.fields]
    if kept:
        obj.setdefault("metadata", {})["managedFields"] = kept
    else:
        obj.get("metadata", {}).pop("managedFields", None)


def _entry_for(
    entries: list[ManagerEntry], manager: str, operation: str, subresource: str, api_version: str, now: str
) -> ManagerEntry:
    for entry in entries:
        if entry.manager == manager and entry.operation == operation and entry.subresource == subresource:
            entry.time, entry.api_version = now, api_version
            return entry
    entry = ManagerEntry(manager, operation, api_version, now, subresource, set())
    entries.append(entry)
    return entry


def _requested_entries(old: dict[str, Any] | None, new: dict[str, Any], subresource: str) -> list[ManagerEntry]:
    """The ownership an update starts from: what the request itself sets in
    metadata.managedFields (how kubectl migrates client-side-apply ownership to server-side apply,
    with a JSON patch), `[]` to reset it, or the live object's when the request leaves it out,
    sends nothing decodable, or writes a subresource (which may not change ownership)."""
    if subresource or old is None:
        return read_entries(old)
    requested = (new.get("metadata") or {}).get("managedFields")
    if requested == []:
        return []
    entries = read_entries(new)
    if not any(entry.fields for entry in entries):
        return read_entries(old)
    return entries


def record_update(
    rtype: ResourceType,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    subresource: str,
    now: str,
) -> None:
    """Give `manager` ownership of every field the update changed; strip them from other owners."""
    new_flat = flatten(rtype, new, subresource)
    old_flat = flatten(rtype, old, subresource) if old is not None else {}
    changed = {p for p, v in new_flat.items() if old_flat.get(p, _MISSING) != v}
    removed = set(old_flat) - set(new_flat)
    entries = _requested_entries(old, new, subresource)
    if changed:
        for entry in entries:
            entry.fields -= changed
        _entry_for(entries, manager, "Update", subresource, rtype.api_version, now).fields |= changed
    if removed:
        for entry in entries:
            entry.fields -= removed
    write_entries(new, entries)


def _format_path(path: Path) -> str:
    parts: list[str] = []
    for element in path:
        if element == ".":
            continue
        if element.startswith("f:"):
            parts.append("." + element[2:])
        elif element.startswith("k:"):
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(element[2:]).items()) + "]")
        else:
            parts.append("[" + element + "]")
    return "".join(parts)


def server_side_apply(
    rtype: ResourceType,
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
    subresource: str,
    now: str,
) -> dict[str, Any]:
    """Return the object after applying `applied` as `manager`, or raise a 409 naming each conflict."""
    applied_flat = flatten(rtype, applied, subresource)
    live_flat = flatten(rtype, live, subresource) if live is not None else {}
    entries = read_entries(live)
    mine = _entry_for(entries, manager, "Apply", subresource, rtype.api_version, now)
    conflicts: list[tuple[Path, ManagerEntry]] = []
    for entry in entries:
        if entry is mine:
            continue
        for path in entry.fields & applied_flat.keys():
            if path[-1] == ".":
                continue
            if live_flat.get(path, _MISSING) != applied_flat[path]:
                conflicts.append((path, entry))
    if conflicts and not force and manager == KUBECTL_MANAGER and live is not None:
        conflicts = _not_allowed_by_last_applied(rtype, live, live_flat, conflicts)
        force = not conflicts
    if conflicts and not force:
        raise _conflict_error(rtype, applied, conflicts)
    for path, entry in conflicts:
        entry.fields.discard(path)
    result: dict[str, Any] = clone(live) if live is not None else {}
    others = [e for e in entries if e is not mine]
    _remove_released(rtype, result, mine.fields - applied_flat.keys(), set(applied_flat), others)
    result = _merge_applied(rtype, result, _applicable(rtype, applied, subresource), ())
    mine.fields = set(applied_flat)
    result_paths = set(flatten(rtype, result, subresource))
    for entry in entries:
        entry.fields &= result_paths
    if manager == KUBECTL_MANAGER and subresource == "":
        _sync_last_applied(result, applied)
    write_entries(result, entries)
    return result


def _owned_beneath(prefix: Path, paths: set[Path]) -> bool:
    return any(p[: len(prefix)] == prefix for p in paths)


def _remove_released(
    rtype: ResourceType, result: dict[str, Any], released: set[Path], applied: set[Path], others: list[ManagerEntry]
) -> None:
    """Remove what the applier stopped declaring and nobody else owns, as structured-merge-diff
    does: a field goes as a whole (a probe, not just its leaves, leaving `httpGet: {}` behind),
    together with everything beneath it nobody owns (server defaults included), unless the applier
    still declares or another manager owns something beneath it."""
    owned_by_others = {p for e in others for p in e.fields}
    fields: set[Path] = set()
    for path in released:
        prefix = path[:-1] if path[-1] == "." else path
        if _owned_beneath(prefix, owned_by_others):
            continue
        fields.add(path)
        # Every enclosing field the applier declared through this leaf is released with it.
        for depth in range(len(prefix) - 1, 0, -1):
            ancestor = prefix[:depth]
            if not ancestor[-1].startswith("f:") or ancestor in _NEVER_REMOVED:
                continue
            if _owned_beneath(ancestor, applied) or _owned_beneath(ancestor, owned_by_others):
                break
            fields.add(ancestor)
    for path in sorted(fields, key=len, reverse=True):
        # Metadata maps also hold keys the simulated controllers write without recording
        # ownership (revision annotations): they go only once empty.
        if path[0] == "f:metadata" and path not in released and _value_at(result, path) not in ({}, None):
            continue
        _remove_path(rtype, result, path)


def _value_at(obj: dict[str, Any], path: Path) -> Any:
    node: Any = obj
    for element in path:
        if not element.startswith("f:") or not isinstance(node, dict):
            return None
        node = node.get(element[2:])
    return node


def _not_allowed_by_last_applied(
    rtype: ResourceType, live: dict[str, Any], live_flat: dict[Path, Any], conflicts: list[tuple[Path, ManagerEntry]]
) -> list[tuple[Path, ManagerEntry]]:
    """kube-apiserver's last-applied manager: `kubectl apply --server-side` takes over, without
    conflicts, the fields a client-side `kubectl apply` set and nobody changed since (their live
    value still equals the one in the last-applied-configuration annotation)."""
    annotation = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    try:
        last_applied = json.loads(annotation) if annotation else None
    except json.JSONDecodeError:
        last_applied = None
    if not isinstance(last_applied, dict):
        return conflicts
    allowed = {path for path, value in flatten(rtype, last_applied).items() if live_flat.get(path, _MISSING) == value}
    return [(path, entry) for path, entry in conflicts if path not in allowed]


def _sync_last_applied(result: dict[str, Any], applied: dict[str, Any]) -> None:
    """kube-apiserver's last-applied updater: an object still carrying client-side apply's
    annotation gets it rewritten to what `kubectl apply --server-side` applied, so a later
    client-side apply diffs against the right configuration."""
    annotations = (result.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or LAST_APPLIED_ANNOTATION not in annotations:
        return
    configuration = clone(applied)
    metadata = configuration.get("metadata") or {}
    own = dict(metadata.get("annotations") or {})
    own.pop(LAST_APPLIED_ANNOTATION, None)
    if own:
        metadata["annotations"] = own
    else:
        metadata.pop("annotations", None)
    annotations[LAST_APPLIED_ANNOTATION] = json.dumps(configuration, separators=(",", ":"), sort_keys=True)


def _applicable(rtype: ResourceType, applied: dict[str, Any], subresource: str) -> dict[str, Any]:
    if subresource == "status":
        return {"status": applied["status"]} if "status" in applied else {}
    body = dict(applied)
    if rtype.has_status:
        body.pop("status", None)
    return body


def _conflict_error(
    rtype: ResourceType, applied: dict[str, Any], conflicts: list[tuple[Path, ManagerEntry]]
) -> ApiError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{entry.manager}"'
            + (f" using {entry.api_version}" if entry.operation == "Update" else ""),
            "field": _format_path(path),
        }
        for path, entry in sorted(conflicts, key=lambda c: c[0])
    ]
    lines = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
    count = len(causes)
    name = (applied.get("metadata") or {}).get("name", "")
    message = f"Apply failed with {count} conflict{'s' if count != 1 else ''}: {lines}"
    if count == 1:
        message = f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}"
    details: dict[str, Any] = {"name": name, "kind": rtype.resource, "causes": causes}
    if rtype.group:
        details["group"] = rtype.group
    return ApiError(409, "Conflict", message, details)


def _find_item(items: list[Any], element: str, keys: tuple[str, ...]) -> int:
    for index, item in enumerate(items):
        if item_element(item, keys) == element:
            return index
    return -1


def _remove_path(rtype: ResourceType, obj: dict[str, Any], path: Path) -> None:
    node: Any = obj
    schema_path: tuple[str, ...] = ()
    for depth, element in enumerate(path):
        last = depth == len(path) - 1
        if element.startswith("f:"):
            key = element[2:]
            if not isinstance(node, dict) or key not in node:
                return
            if last:
                del node[key]
                return
            schema_path = (*schema_path, key)
            node = node[key]
        elif element.startswith(("k:", "v:")):
            if not isinstance(node, list):
                return
            keys = list_semantics(rtype, schema_path).keys
            index = _find_item(node, element, keys)
            if index < 0:
                return
            if last or path[depth + 1] == ".":
                del node[index]
                return
            node = node[index]
        else:
            return


def _merge_applied(rtype: ResourceType, live: Any, applied: Any, schema_path: tuple[str, ...]) -> Any:
    if isinstance(applied, dict):
        if not isinstance(live, dict):
            live = {}
        merged = dict(live)
        for key, value in applied.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = _merge_applied(rtype, merged.get(key), value, (*schema_path, key))
        return merged
    if isinstance(applied, list):
        semantics = list_semantics(rtype, schema_path)
        current = list(live) if isinstance(live, list) else []
        if semantics.kind == "map" and semantics.keys and all(isinstance(i, dict) for i in applied):
            for item in applied:
                index = _find_item(current, item_element(item, semantics.keys), semantics.keys)
                if index < 0:
                    current.append(clone(item))
                else:
                    current[index] = _merge_applied(rtype, current[index], item, schema_path)
            return current
        if semantics.kind == "set":
            return current + [v for v in applied if v not in current]
        return clone(applied)
    return applied
