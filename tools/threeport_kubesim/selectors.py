"""Label and field selectors: parse the query-string syntax once, then match objects cheaply."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from threeport_kubesim.errors import bad_request

_KEY = r"[A-Za-z0-9_./-]+"
_REQUIREMENT = re.compile(
    rf"\s*(?:(?P<not>!)\s*(?P<nkey>{_KEY})"
    rf"|(?P<key>{_KEY})\s*(?:(?P<op>==|=|!=|>|<)\s*(?P<value>[A-Za-z0-9_.-]*)"
    rf"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in (">", "<") and present:
            try:
                number, bound = int(value or ""), int(self.values[0])
            except ValueError:
                return False
            return number > bound if self.op == ">" else number < bound
        return False


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def parse_label_selector(text: str | None) -> LabelSelector:
    if not text or not text.strip():
        return LabelSelector()
    requirements: list[Requirement] = []
    pos = 0
    while pos < len(text):
        match = _REQUIREMENT.match(text, pos)
        if match is None or match.end() == pos:
            raise bad_request(f"unable to parse requirement: found '{text[pos:]}'")
        pos = match.end()
        if match.group("not"):
            requirements.append(Requirement(match.group("nkey"), "!"))
        elif match.group("setop"):
            values = tuple(v.strip() for v in match.group("values").split(",") if v.strip())
            requirements.append(Requirement(match.group("key"), match.group("setop"), values))
        elif match.group("op"):
            op = "=" if match.group("op") in ("=", "==") else match.group("op")
            requirements.append(Requirement(match.group("key"), op, (match.group("value"),)))
        else:
            requirements.append(Requirement(match.group("key"), "exists"))
    return LabelSelector(tuple(requirements))


def selector_from_label_selector_object(selector: dict[str, Any] | None) -> LabelSelector:
    """Convert a metav1.LabelSelector (matchLabels + matchExpressions) into our matcher."""
    if not selector:
        return LabelSelector()
    requirements = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    op_map = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        requirements.append(
            Requirement(expr["key"], op_map.get(expr.get("operator", ""), "exists"), tuple(expr.get("values") or ()))
        )
    return LabelSelector(tuple(requirements))


def format_label_selector(selector: dict[str, Any] | None) -> str:
    """The string form kube uses in status.selector of the scale subresource."""
    parts = [f"{k}={v}" for k, v in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op = expr.get("operator")
        if op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append("!" + expr["key"])
        else:
            parts.append(f"{expr['key']} {op.lower()} ({','.join(expr.get('values') or [])})")
    return ",".join(parts)


# Field selectors kube-apiserver supports per kind, beyond metadata.name and metadata.namespace.
_FIELD_LABELS: dict[str, set[str]] = {
    "Pod": {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
    "Event": {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
    "Secret": {"type"},
    "Namespace": {"status.phase"},
    "Node": {"spec.unschedulable"},
    "ReplicaSet": {"status.replicas"},
    "Job": {"status.successful"},
    "PersistentVolumeClaim": set(),
}


def _field_value(obj: dict[str, Any], path: str) -> str:
    if path == "source" and obj.get("kind") == "Event":
        return str((obj.get("source") or {}).get("component", ""))
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


FieldMatcher = Callable[[dict[str, Any]], bool]


def parse_field_selector(text: str | None, kind: str, custom: bool = False) -> FieldMatcher | None:
    """Return a predicate over whole objects, or None when the selector is empty."""
    if not text or not text.strip():
        return None
    allowed = {"metadata.name", "metadata.namespace"} | _FIELD_LABELS.get(kind, set())
    terms: list[tuple[str, bool, str]] = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            continue
        if "!=" in raw:
            key, value = raw.split("!=", 1)
            equal = False
        elif "==" in raw:
            key, value = raw.split("==", 1)
            equal = True
        elif "=" in raw:
            key, value = raw.split("=", 1)
            equal = True
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{raw}'")
        key = key.strip()
        if key not in allowed:
            raise bad_request(f"field label not supported: {key}")
        terms.append((key, equal, value.strip()))

    def matches(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, key) == value) == equal for key, equal, value in terms)

    return matches
