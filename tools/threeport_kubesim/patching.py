"""The three non-apply patch formats: JSON patch (RFC 6902), JSON merge patch (RFC 7386), and
Kubernetes strategic merge patch (keyed list merging plus $patch/$retainKeys/$setElementOrder
directives). Each takes the current object and returns a new one, never mutating its input.
"""

from __future__ import annotations

import json
from typing import Any

from threeport_kubesim.errors import ApiError, bad_request
from threeport_kubesim.listsemantics import list_semantics
from threeport_kubesim.meta import clone
from threeport_kubesim.resources import ResourceType


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [_unescape(t) for t in path[1:].split("/")]


def _container_and_key(doc: Any, tokens: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: doc is missing path: {path!r}",
            )
    return node, tokens[-1]


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent, key = _container_and_key(doc, tokens, path)
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent[int(key)]
    raise ApiError(422, "Invalid", f"doc is missing key: {path!r}")


def _remove(doc: Any, path: str) -> Any:
    parent, key = _container_and_key(doc, _pointer(path), path)
    if isinstance(parent, dict) and key in parent:
        return parent.pop(key)
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent.pop(int(key))
    raise ApiError(422, "Invalid", f"unable to remove nonexistent key: {path!r}")


def _add(doc: Any, path: str, value: Any, replace: bool) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, key = _container_and_key(doc, tokens, path)
    if isinstance(parent, dict):
        if replace and key not in parent:
            raise ApiError(422, "Invalid", f"replace operation does not apply: doc is missing key: {path}")
        parent[key] = value
    elif isinstance(parent, list):
        if key == "-":
            parent.append(value)
        elif key.isdigit() and int(key) <= len(parent):
            if replace:
                if int(key) >= len(parent):
                    raise ApiError(422, "Invalid", f"replace index out of range: {path}")
                parent[int(key)] = value
            else:
                parent.insert(int(key), value)
        else:
            raise ApiError(422, "Invalid", f"add index out of range: {path}")
    else:
        raise ApiError(422, "Invalid", f"cannot add to a scalar at {path}")
    return doc


def apply_json_patch(obj: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    doc: Any = clone(obj)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, clone(op.get("value")), replace=False)
        elif kind == "replace":
            doc = _add(doc, path, clone(op.get("value")), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "move":
            value = _remove(doc, op["from"])
            doc = _add(doc, path, value, replace=False)
        elif kind == "copy":
            doc = _add(doc, path, clone(_get(doc, op["from"])), replace=False)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, "Invalid", f"testing value {path} failed")
        else:
            raise bad_request(f"unknown json patch op {kind!r}")
    if not isinstance(doc, dict):
        raise bad_request("json patch must leave an object")
    return doc


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null removes, everything else replaces."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def apply_strategic_merge_patch(rtype: ResourceType, obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be an object")
    merged = _smp_map(rtype, obj, patch, ())
    return merged if isinstance(merged, dict) else {}


def _smp_map(rtype: ResourceType, original: Any, patch: dict[str, Any], path: tuple[str, ...]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: clone(v) for k, v in patch.items() if not k.startswith("$")}
    result = dict(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field_name = key.split("/", 1)[1]
            current = result.get(field_name)
            if isinstance(current, list) and isinstance(value, list):
                result[field_name] = [v for v in current if v not in value]
            continue
        child = (*path, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(rtype, result.get(key), value, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(rtype, result.get(key), value, child)
        else:
            result[key] = value
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            field_name = key.split("/", 1)[1]
            result[field_name] = _reorder(rtype, result.get(field_name), value, (*path, field_name))
    return result


def _item_key(item: Any, keys: tuple[str, ...]) -> str | None:
    if not isinstance(item, dict):
        return None
    return json.dumps([item.get(k) for k in keys], sort_keys=True)


def _smp_list(rtype: ResourceType, original: Any, patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    semantics = list_semantics(rtype, path)
    current = list(original) if isinstance(original, list) else []
    if semantics.kind == "set":
        for value in patch:
            if value not in current:
                current.append(value)
        return current
    if semantics.kind != "map" or not semantics.keys:
        if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
            return [clone(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
        return clone(patch)
    merge_key = semantics.keys[:1]
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return [clone(v) for v in patch if not (isinstance(v, dict) and v.get("$patch") == "replace")]
    positions = {_item_key(item, merge_key): i for i, item in enumerate(current)}
    for item in patch:
        key = _item_key(item, merge_key)
        if key is None or key not in positions:
            if isinstance(item, dict) and item.get("$patch") == "delete":
                continue
            current.append(clone(item))
            positions[key] = len(current) - 1
            continue
        index = positions[key]
        if isinstance(item, dict) and item.get("$patch") == "delete":
            current[index] = None
            continue
        current[index] = _smp_map(rtype, current[index], item, path)
    return [item for item in current if item is not None]


def _reorder(rtype: ResourceType, items: Any, order: Any, path: tuple[str, ...]) -> Any:
    if not isinstance(items, list) or not isinstance(order, list):
        return items
    semantics = list_semantics(rtype, path)
    if semantics.kind == "map" and semantics.keys:
        keys = semantics.keys[:1]
        rank = {_item_key(o, keys): i for i, o in enumerate(order)}
        return sorted(items, key=lambda item: rank.get(_item_key(item, keys), len(rank)))
    rank_scalar = {json.dumps(o): i for i, o in enumerate(order)}
    return sorted(items, key=lambda item: rank_scalar.get(json.dumps(item), len(rank_scalar)))
