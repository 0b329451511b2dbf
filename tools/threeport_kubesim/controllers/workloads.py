"""Helpers shared by the workload controllers: owner lookup, pod construction, template hashing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from threeport_kubesim.meta import clone, owner_reference, random_suffix

_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def template_hash(template: Any) -> str:
    """A short stable hash of a pod template, spelled like kube's pod-template-hash values.

    Nulls are ignored because Go clients send `creationTimestamp: null` in templates (for example
    `kubectl rollout undo` copying a ReplicaSet's template back), which kube hashes as absent."""
    canonical = json.dumps(_without_nulls(template), sort_keys=True).encode()
    digest = int.from_bytes(hashlib.sha256(canonical).digest()[:8], "big")
    chars = []
    for _ in range(10):
        digest, index = divmod(digest, len(_HASH_ALPHABET))
        chars.append(_HASH_ALPHABET[index])
    return "".join(chars)


def controller_keys(obj: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    """(namespace, name) of the controller of `obj` if it is of `kind`."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == kind:
            return [(obj["metadata"].get("namespace", ""), ref.get("name", ""))]
    return []


def changed_keys(obj: dict[str, Any], old: dict[str, Any] | None, kind: str) -> list[tuple[str, str]]:
    keys = controller_keys(obj, kind)
    if old is not None:
        keys += [k for k in controller_keys(old, kind) if k not in keys]
    return keys


def pod_from_template(
    owner: dict[str, Any],
    template: dict[str, Any],
    name: str | None = None,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    template_meta = template.get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
    labels.update(extra_labels or {})
    metadata: dict[str, Any] = {
        "namespace": owner["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [owner_reference(owner)],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    if name:
        metadata["name"] = name
    else:
        metadata["name"] = f"{owner['metadata']['name']}-{random_suffix()}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": clone(template.get("spec") or {}),
    }


def set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    with_update_time: bool = True,
) -> list[dict[str, Any]]:
    """Upsert a condition, moving lastTransitionTime only when its status flips."""
    result = [dict(c) for c in conditions]
    for condition in result:
        if condition.get("type") == kind:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = now
            if with_update_time and (
                condition.get("reason") != reason
                or condition.get("status") != status
                or condition.get("message") != message
            ):
                condition["lastUpdateTime"] = now
            condition.update({"status": status, "reason": reason, "message": message})
            return result
    condition = {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
    }
    if with_update_time:
        condition["lastUpdateTime"] = now
    result.append(condition)
    return result


def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = str(value or "0")
    if text.endswith("%"):
        fraction = int(text[:-1]) * total
        return -(-fraction // 100) if round_up else fraction // 100
    return int(text)
