"""Kubernetes objects written as YAML text (one or more ``---``-separated documents).

Used by the registry to check ``kind: manifests`` components at apply and by delivery to render
them, so both read the text the same way: empty documents are skipped, every other document must
be a mapping with ``apiVersion``, ``kind`` and ``metadata.name``. ``dump_yaml`` writes objects
back as YAML text with libyaml when PyYAML has it (the same text, five times faster than the
pure-Python emitter: delivery writes every release's manifests).
"""

from __future__ import annotations

from typing import Any

import yaml

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(data: Any, *, sort_keys: bool) -> str:
    """``data`` as YAML text (safe types only), keys in their order or sorted."""
    return str(yaml.dump(data, Dumper=_DUMPER, sort_keys=sort_keys))


class DocumentError(ValueError):
    """The text is not a list of Kubernetes objects; the message says which document and why."""


def load_objects(text: str) -> list[dict[str, Any]]:
    """The objects in ``text``, in order; DocumentError naming the first bad document."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        raise DocumentError(f"is not valid YAML: {error}") from None
    objects: list[dict[str, Any]] = []
    position = 0
    for document in documents:
        if document is None:
            continue
        position += 1
        if not isinstance(document, dict):
            raise DocumentError(f"document {position} is not a mapping (a Kubernetes object)")
        missing = [f for f in ("apiVersion", "kind") if not isinstance(document.get(f), str) or not document[f]]
        metadata = document.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
            missing.append("metadata.name")
        if missing:
            raise DocumentError(f"document {position} has no {', '.join(missing)}")
        objects.append(document)
    return objects
