"""Prints resources as a table, YAML, JSON or names (``-o table|wide|yaml|json|name``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import yaml
from google.protobuf.message import Message

from threeport_cli.protojson import to_friendly_dict

FORMATS = ("table", "wide", "yaml", "json", "name")


def field_value(message: Message, name: str) -> Any:
    descriptor = message.DESCRIPTOR.fields_by_name.get(name)
    return getattr(message, name) if descriptor is not None else None


def short_name(message: Message) -> str:
    """The ids of a name without its project: ``shop`` for an application, ``shop-dev/3`` for
    release 3 of the deployment shop-dev (a listing can hold releases of several deployments)."""
    name = str(field_value(message, "name") or "")
    ids = name.split("/")[1::2]
    if name.startswith("projects/") and len(ids) > 1:
        ids = ids[1:]
    return "/".join(ids) or name


def state_text(message: Message) -> str:
    state = field_value(message, "state")
    if state is None:
        return ""
    enum = message.DESCRIPTOR.fields_by_name["state"].enum_type
    if enum is None or state not in enum.values_by_number:
        return str(state)
    text = enum.values_by_number[state].name.removeprefix("STATE_")
    return "" if text == "UNSPECIFIED" else text


def ready_text(message: Message) -> str:
    conditions = field_value(message, "conditions")
    generation = field_value(message, "generation") or 0
    for condition in conditions or []:
        if condition.type == "Ready":
            status = {1: "True", 2: "False"}.get(condition.status, "Unknown")
            stale = generation and condition.observed_generation != generation
            return f"{status}{' (stale)' if stale else ''}"
    return ""


def age_text(message: Message, now: datetime | None = None, field: str = "create_time") -> str:
    """How long ago ``field`` (a timestamp; default the creation time) was: 5s, 3m, 2h, 4d."""
    created = field_value(message, field)
    if created is None or not created.seconds:
        return ""
    now = now or datetime.now(UTC)
    seconds = int((now - created.ToDatetime(tzinfo=UTC)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def project_of(message: Message) -> str:
    name = str(field_value(message, "name") or "")
    parts = name.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "projects" else ""


def labels_text(message: Message) -> str:
    labels = field_value(message, "labels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def reason_text(message: Message) -> str:
    for condition in field_value(message, "conditions") or []:
        if condition.type == "Ready" and condition.status != 1:
            return str(condition.reason)
    return ""


def images_text(message: Message) -> str:
    """``api=reg/api:1.2 (pin)`` per component, for resources whose status says which image runs
    and why (deployments' ``status.images``)."""
    status = field_value(message, "status")
    images = field_value(status, "images") if isinstance(status, Message) else None
    if not images:
        return ""
    parts = []
    for component, source in sorted(images.items()):
        origin = source.DESCRIPTOR.fields_by_name["origin"].enum_type.values_by_number[source.origin].name
        ref = source.image.image + (f"@{source.image.digest}" if source.image.digest and "@" not in source.image.image
                                    else "")
        parts.append(f"{component}={ref} ({origin.removeprefix('IMAGE_ORIGIN_').lower()})")
    return ",".join(parts)


def deployment_columns(message: Message) -> dict[str, str]:
    """Where a deployment runs and what it runs: ``-o wide`` shows these too."""
    status: Any = field_value(message, "status")
    release = status.current_release if status is not None else 0
    return {"CLUSTER": status.cluster.rsplit("/", 1)[-1] if status is not None else "",
            "NAMESPACE": status.namespace if status is not None else "",
            "RELEASE": str(release) if release else "", "IMAGES": images_text(message)}


def _enum_word(message: Any, field: str, prefix: str) -> str:
    """An enum field's value name without ``prefix``, lowercased (its number if unnamed)."""
    known = message.DESCRIPTOR.fields_by_name[field].enum_type.values_by_number.get(getattr(message, field))
    return str(known.name).removeprefix(prefix).lower() if known else str(getattr(message, field))


def release_reason(release: Any) -> str:
    """Why a release was made: initial, spec_change, build, promotion, rollback, deploy."""
    return _enum_word(release, "reason", "RELEASE_REASON_")


def release_approval(release: Any) -> str:
    """pending, approved, superseded, or - (a release that needed no approval)."""
    text = _enum_word(release, "approval", "APPROVAL_STATE_")
    return "-" if text == "unspecified" else text


def release_images(release: Any) -> str:
    return ",".join(f"{component}={ref.image}" + (f"@{ref.digest[:19]}" if ref.digest else "")
                    for component, ref in sorted(release.images.items()))


def release_columns(message: Message) -> dict[str, str]:
    release: Any = message
    return {"REASON": release_reason(release), "APPROVAL": release_approval(release),
            "IMAGES": release_images(release), "MESSAGE": release.message}


# Extra ``-o wide`` columns of some kinds, keyed by the message's full proto name.
WIDE_COLUMNS: dict[str, tuple[tuple[str, ...], Callable[[Message], dict[str, str]]]] = {
    "threeport.delivery.v1alpha1.Deployment": (("CLUSTER", "NAMESPACE", "RELEASE", "IMAGES"), deployment_columns),
}

# Kinds with neither a lifecycle state nor a Ready condition (releases are immutable snapshots):
# their own columns stand where STATE and READY would be blank, then the wide ones.
OWN_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...], Callable[[Message], dict[str, str]]]] = {
    "threeport.delivery.v1alpha1.Release": (("REASON", "APPROVAL"), ("IMAGES", "MESSAGE"), release_columns),
}


def header(messages: Sequence[Message], wide: bool) -> list[str]:
    own = OWN_COLUMNS.get(messages[0].DESCRIPTOR.full_name) if messages else None
    if own is not None:
        return ["NAME", *own[0], "AGE", *((*own[1], "PROJECT") if wide else ())]
    columns = ["NAME", "STATE", "READY", "AGE"]
    if wide:
        extra = WIDE_COLUMNS.get(messages[0].DESCRIPTOR.full_name) if messages else None
        columns += [*(extra[0] if extra else ()), "PROJECT", "GENERATION", "REASON", "LABELS"]
    return columns


def row(message: Message, wide: bool, state: str | None = None) -> list[str]:
    """One table row; ``state`` replaces the STATE cell (a watch shows DELETED there; a kind
    with its own columns shows it in the first of them)."""
    own = OWN_COLUMNS.get(message.DESCRIPTOR.full_name)
    if own is not None:
        values = own[2](message)
        first, *rest = [values[column] for column in own[0]]
        cells = [short_name(message), first if state is None else state, *rest, age_text(message)]
        return cells + ([*(values[column] for column in own[1]), project_of(message)] if wide else [])
    cells = [short_name(message), state_text(message) if state is None else state, ready_text(message),
             age_text(message)]
    if wide:
        extra = WIDE_COLUMNS.get(message.DESCRIPTOR.full_name)
        if extra:
            values = extra[1](message)
            cells += [values[column] for column in extra[0]]
        cells += [project_of(message), str(field_value(message, "generation") or ""),
                  reason_text(message), labels_text(message)]
    return cells


def rows(messages: Sequence[Message], wide: bool) -> list[list[str]]:
    return [header(messages, wide)] + [row(message, wide) for message in messages]


def column_widths(table: list[list[str]]) -> list[int]:
    return [max(len(row[i]) for row in table) for i in range(len(table[0]))]


def render_table(table: list[list[str]], widths: list[int] | None = None) -> str:
    widths = widths or column_widths(table)
    return "\n".join("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
                     for row in table)


def print_resources(messages: Sequence[Message], output: str, *, single: bool = False,
                    stream: TextIO | None = None) -> None:
    """Prints ``messages``; ``single`` prints one object (not a list) for yaml and json."""
    stream = stream or sys.stdout  # looked up per call, so redirected output is honoured
    if output == "name":
        for message in messages:
            print(field_value(message, "name"), file=stream)
    elif output == "json":
        data: Any = to_friendly_dict(messages[0]) if single else [to_friendly_dict(m) for m in messages]
        print(json.dumps(data, indent=2, sort_keys=False), file=stream)
    elif output == "yaml":
        if single:
            print(yaml.safe_dump(to_friendly_dict(messages[0]), sort_keys=False).rstrip(), file=stream)
        else:
            print(yaml.safe_dump_all([to_friendly_dict(m) for m in messages], sort_keys=False).rstrip(),
                  file=stream)
    else:
        if not messages:
            print("No resources found.", file=sys.stderr)
            return
        print(render_table(rows(messages, output == "wide")), file=stream)
