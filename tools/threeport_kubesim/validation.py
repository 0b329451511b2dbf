"""Admission-time validation beyond the schema (schemas.py checks structure): object names,
label values, unique container names, images, selectors matching templates, immutable fields."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from threeport_kubesim.errors import ApiError, invalid
from threeport_kubesim.resources import ResourceType
from threeport_kubesim.selectors import selector_from_label_selector_object

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PATH_SEGMENT_NAMED = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}

Cause = tuple[str, str, str]


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` is not acceptable for `kind`, or None."""
    if kind in _PATH_SEGMENT_NAMED:
        if name in (".", "..") or "/" in name or "%" in name:
            return 'may not be "." or ".." and may not contain "/" or "%"'
        return None
    if kind == "Namespace":
        if len(name) > 63 or not _LABEL.match(name):
            return (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character"
            )
        return None
    if kind == "Service":
        if len(name) > 63 or not _DNS1035.match(name):
            return (
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                "an alphabetic character, and end with an alphanumeric character"
            )
        return None
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
            "'.', and must start and end with an alphanumeric character"
        )
    return None


def _containers(spec: Any, prefix: str, causes: list[Cause]) -> None:
    """What the schema cannot say about containers: unique names and an image (the schema
    reports a missing `containers` or `name`)."""
    containers = (spec or {}).get("containers") if isinstance(spec, dict) else None
    if not isinstance(containers, list):
        return
    seen: set[str] = set()
    for index, container in enumerate(containers):
        where = f"{prefix}.containers[{index}]"
        if not isinstance(container, dict):
            continue
        name = container.get("name")
        if not name:
            continue
        if name in seen:
            causes.append(("FieldValueDuplicate", f"{where}.name", f'Duplicate value: "{name}"'))
        else:
            seen.add(name)
        if not container.get("image"):
            causes.append(("FieldValueRequired", f"{where}.image", "Required value"))


def _workload(obj: dict[str, Any], causes: list[Cause], needs_selector: bool = True) -> None:
    spec = obj.get("spec") or {}
    template = spec.get("template")
    if not isinstance(template, dict):
        return  # the schema reports it
    if needs_selector:
        selector = spec.get("selector")
        if isinstance(selector, dict):
            labels = (template.get("metadata") or {}).get("labels") or {}
            matcher = selector_from_label_selector_object(selector)
            if matcher.empty:
                causes.append(("FieldValueInvalid", "spec.selector", "empty selector is invalid for deployment"))
            elif not matcher.matches(labels):
                causes.append(
                    (
                        "FieldValueInvalid",
                        "spec.template.metadata.labels",
                        "`selector` does not match template `labels`",
                    )
                )
    _containers(template.get("spec"), "spec.template.spec", causes)


def _required_fields(rtype: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    kind = rtype.kind
    spec = obj.get("spec") or {}
    if rtype.custom:
        return causes
    if kind == "Pod":
        _containers(obj.get("spec"), "spec", causes)
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        _workload(obj, causes)
    elif kind == "Job":
        _workload(obj, causes, needs_selector=False)
        policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            causes.append(
                (
                    "FieldValueNotSupported",
                    "spec.template.spec.restartPolicy",
                    f'Unsupported value: "{policy or "Always"}": supported values: "OnFailure", "Never"',
                )
            )
    elif kind == "Service":
        service_type = spec.get("type", "ClusterIP")
        if service_type != "ExternalName" and spec.get("clusterIP") != "None" and not spec.get("ports"):
            causes.append(("FieldValueRequired", "spec.ports", "Required value"))
    elif kind == "CustomResourceDefinition":
        names = spec.get("names") or {}
        versions = spec.get("versions") or []
        if versions and sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
            causes.append(("FieldValueInvalid", "spec.versions", "must have exactly one version marked as storage"))
        expected = f"{names.get('plural')}.{spec.get('group')}"
        if names.get("plural") and spec.get("group") and obj["metadata"].get("name") != expected:
            causes.append(("FieldValueInvalid", "metadata.name", 'must be spec.names.plural+"."+spec.group'))
    return causes


def validate(rtype: ResourceType, obj: dict[str, Any], schema_causes: Iterable[Cause] = ()) -> None:
    """Raise 422 Invalid with every cause: those the schema check found (schemas.py) and the
    rules no schema expresses (names, unique container names, selectors matching templates)."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name", "")
    causes: list[Cause] = list(schema_causes)
    if not name:
        causes.append(("FieldValueRequired", "metadata.name", "name or generateName is required"))
    else:
        problem = name_problem(rtype.kind, name)
        if problem:
            causes.append(("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {problem}'))
    for key, value in (metadata.get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63:
            causes.append(("FieldValueInvalid", f"metadata.labels[{key}]", "must be a string of at most 63 characters"))
    causes.extend(_required_fields(rtype, obj))
    causes = list(dict.fromkeys(causes))
    if causes:
        raise invalid(rtype.kind, rtype.group, name, causes)


def validate_update(rtype: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Immutable fields the project could trip over: workload selectors and role references."""
    immutable: list[tuple[str, Any, Any]] = []
    if rtype.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job") and not rtype.custom:
        immutable.append(
            (
                "spec.selector",
                (old.get("spec") or {}).get("selector"),
                (new.get("spec") or {}).get("selector"),
            )
        )
    if rtype.kind in ("RoleBinding", "ClusterRoleBinding"):
        immutable.append(("roleRef", old.get("roleRef"), new.get("roleRef")))
    if rtype.kind == "Service":
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = (new.get("spec") or {}).get("clusterIP")
        if new_ip not in (None, "", old_ip):
            immutable.append(("spec.clusterIP", old_ip, new_ip))
    causes = [("FieldValueInvalid", path, "field is immutable") for path, before, after in immutable if before != after]
    if causes:
        raise invalid(rtype.kind, rtype.group, old["metadata"]["name"], causes)


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
    return body
