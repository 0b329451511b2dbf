"""Compares rendered objects with live ones: identity keys, "does live still say what we
applied" (drift), and unified YAML diffs for plans.

Live objects carry server defaults and status; only what Threeport declares is compared, and
of the metadata only labels and annotations.
"""

from __future__ import annotations

import difflib
from typing import Any

from threeport_runtime.kube.documents import dump_yaml

Manifest = dict[str, Any]
ObjectKey = tuple[str, str, str, str]


def object_key(manifest: Manifest) -> ObjectKey:
    metadata = manifest.get("metadata", {})
    return (manifest["apiVersion"], manifest["kind"], metadata.get("namespace", ""), metadata["name"])


def describe(key: ObjectKey) -> str:
    _, kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _same_scalar(live: Any, desired: Any) -> bool:
    if live == desired:
        return True
    # Servers may echo numbers as strings or the other way round (ports, quantities).
    return isinstance(live, int | float | str) and isinstance(desired, int | float | str) and str(live) == str(desired)


def contains(live: Any, desired: Any) -> bool:
    """Whether every field of ``desired`` has the same value in ``live``."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(key in live and contains(live[key], value) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        return all(contains(a, b) for a, b in zip(live, desired, strict=True))
    return _same_scalar(live, desired)


def comparable(manifest: Manifest) -> Manifest:
    """The parts of a rendered object that drift detection compares."""
    metadata = manifest.get("metadata", {})
    kept = {k: v for k, v in manifest.items() if k not in ("metadata", "status")}
    kept["metadata"] = {k: metadata[k] for k in ("labels", "annotations") if k in metadata}
    return kept


def in_sync(live: Manifest | None, desired: Manifest) -> bool:
    return live is not None and contains(live, comparable(desired))


def _project(live: Any, desired: Any) -> Any:
    """``live`` cut down to the shape of ``desired`` (so diffs show only what we manage)."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return {k: _project(live[k], v) for k, v in desired.items() if k in live}
    if isinstance(desired, list) and isinstance(live, list):
        return [_project(a, b) for a, b in zip(live, desired, strict=False)] + live[len(desired):]
    return live


def unified_diff(live: Manifest, desired: Manifest) -> str:
    wanted = comparable(desired)
    before = dump_yaml(_project(comparable(live), wanted), sort_keys=True)
    after = dump_yaml(wanted, sort_keys=True)
    name = describe(object_key(desired))
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"live {name}", f"rendered {name}"
    ))
