"""Validation of what a component is (``kind``) and of the fields that go with each kind:
``helm``, ``manifests``, ``job`` with ``schedule``, ``autoscaling``, ``disruption_budget``,
and the application's ``hooks``.

Rules decided here (beyond what the proto comments say):

- ``kind`` is ``container`` (also when empty), ``job``, ``helm`` or ``manifests``; container
  fields (image, command, ports, env, probes, storage, ...) belong to containers and jobs only.
- A job may not declare storage, probes, autoscaling or a disruption budget (it runs to
  completion); ``schedule`` is a five-field cron expression and only for jobs.
- ``manifests`` must be Kubernetes objects of a kind every cluster serves, or of a kind whose
  CRD is among the application's manifests; their ``metadata.namespace`` is not theirs to choose
  (delivery puts them into the deployment's namespace).
- Helm values may reference non-secret outputs only (secret outputs reach a chart through the
  component's outputs Secret, see the proto); whether the chart renders is checked by delivery,
  which has the chart.
- A pre-deploy hook names a ``kind: job`` component without a schedule, at most once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_model import kube_kinds
from threeport_registry.domain import field_paths as fp
from threeport_runtime.kube.documents import DocumentError, load_objects

CONTAINER, JOB, HELM, MANIFESTS = "container", "job", "helm", "manifests"
KINDS = (CONTAINER, JOB, HELM, MANIFESTS)
MAX_MANIFEST_BYTES = 1024 * 1024
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]*")
_CRON_FIELD = re.compile(r"(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*")
_COUNT_OR_PERCENT = re.compile(r"[0-9]+%?")
# Fields of a container or job, and how to tell whether one is set.
_CONTAINER_FIELDS: tuple[tuple[str, Callable[[application_pb2.Component], bool]], ...] = (
    ("image", lambda c: bool(c.image)),
    ("command", lambda c: bool(c.command)),
    ("args", lambda c: bool(c.args)),
    ("ports", lambda c: bool(c.ports)),
    ("env", lambda c: bool(c.env)),
    ("resources", lambda c: c.HasField("resources")),
    ("probes", lambda c: c.HasField("probes")),
    ("storage", lambda c: bool(c.storage)),
    ("config_files", lambda c: bool(c.config_files)),
    ("autoscaling", lambda c: c.HasField("autoscaling")),
    ("disruption_budget", lambda c: c.HasField("disruption_budget")),
)

ReferenceCheck = Callable[[str, str], None]  # (text, field path) -> adds violations


def kind_of(component: application_pb2.Component) -> str:
    return component.kind or CONTAINER


def is_workload(component: application_pb2.Component) -> bool:
    """Whether the component runs its own image (a container or a job)."""
    return kind_of(component) in (CONTAINER, JOB)


def validate_kind(
    component: application_pb2.Component,
    at: str,
    spec: application_pb2.ApplicationSpec,
    violations: fp.Violations,
    check_references: ReferenceCheck,
) -> None:
    """Violations of ``kind`` and of the fields that belong to it (container fields are checked
    by the caller for containers and jobs)."""
    kind = kind_of(component)
    if kind not in KINDS:
        violations.add(fp.child(at, "kind"), f"{component.kind!r} is not a component kind: use {', '.join(KINDS)}")
        return
    if kind != HELM and component.HasField("helm"):
        violations.add(fp.child(at, "helm"), f"is only for kind: helm (this component is kind: {kind})")
    if kind != MANIFESTS and component.manifests:
        violations.add(fp.child(at, "manifests"), f"is only for kind: manifests (this component is kind: {kind})")
    if kind != JOB and component.schedule:
        violations.add(fp.child(at, "schedule"), f"is only for kind: job (this component is kind: {kind})")
    if kind in (HELM, MANIFESTS):
        for name, is_set in _CONTAINER_FIELDS:
            if is_set(component):
                violations.add(fp.child(at, name), f"is for containers and jobs; a kind: {kind} component "
                               "declares its objects itself")
        if component.replicas > 1:
            violations.add(fp.child(at, "replicas"), f"is for containers; a kind: {kind} component's objects "
                           "say their own replicas")
    if kind == HELM:
        _validate_helm(component, fp.child(at, "helm"), violations, check_references)
    elif kind == MANIFESTS:
        _validate_manifests(component.manifests, fp.child(at, "manifests"), spec, violations)
    elif kind == JOB:
        _validate_job(component, at, violations)
    if component.HasField("autoscaling") and kind == CONTAINER:
        _validate_autoscaling(component, fp.child(at, "autoscaling"), violations)
    if component.HasField("disruption_budget") and kind == CONTAINER:
        _validate_budget(component.disruption_budget, fp.child(at, "disruption_budget"), violations)


def _validate_helm(
    component: application_pb2.Component, at: str, violations: fp.Violations, check_references: ReferenceCheck
) -> None:
    if not component.HasField("helm"):
        violations.add(at, "is required for kind: helm: {repository | oci, chart, version, values?}")
        return
    helm = component.helm
    if bool(helm.repository) == bool(helm.oci):
        violations.add(at, "set exactly one of repository (an HTTP chart repository URL) and oci (oci://...)")
    if helm.repository and not helm.repository.startswith(("http://", "https://")):
        violations.add(fp.child(at, "repository"), f"{helm.repository!r} is not an http:// or https:// URL")
    if helm.oci and not helm.oci.startswith("oci://"):
        violations.add(fp.child(at, "oci"), f"{helm.oci!r} is not an oci:// reference")
    if helm.repository and not helm.chart:
        violations.add(fp.child(at, "chart"), "is required with repository: the chart's name in the repository")
    if not helm.version:
        violations.add(fp.child(at, "version"), "is required: the exact chart version, e.g. 0.1.0")
    elif not _VERSION.fullmatch(helm.version) or "*" in helm.version:
        violations.add(fp.child(at, "version"), f"{helm.version!r} is not an exact version such as 0.1.0")
    if helm.digest and not _DIGEST.fullmatch(helm.digest):
        violations.add(fp.child(at, "digest"), f"{helm.digest!r} is not sha256: and 64 lowercase hex digits")
    if helm.HasField("values"):
        values = json_format.MessageToDict(helm.values)
        for path, text in _strings(values, fp.child(at, "values")):
            check_references(text, path)


def _strings(value: Any, at: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield at, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, fp.child(at, str(key)))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _strings(item, fp.index(at, position))


def manifest_objects(spec: application_pb2.ApplicationSpec) -> list[dict[str, Any]]:
    """Every object of every manifests component that parses (for finding CRDs)."""
    objects: list[dict[str, Any]] = []
    for component in spec.components.values():
        if kind_of(component) == MANIFESTS and component.manifests:
            try:
                objects.extend(load_objects(component.manifests))
            except DocumentError:
                continue  # reported on the component itself
    return objects


def _validate_manifests(
    text: str, at: str, spec: application_pb2.ApplicationSpec, violations: fp.Violations
) -> None:
    if not text.strip():
        violations.add(at, "is required for kind: manifests: one or more YAML documents, each a Kubernetes object")
        return
    if len(text.encode()) > MAX_MANIFEST_BYTES:
        violations.add(at, f"is {len(text.encode())} bytes; at most {MAX_MANIFEST_BYTES} (1 MiB)")
        return
    try:
        objects = load_objects(text)
    except DocumentError as error:
        violations.add(at, str(error))
        return
    if not objects:
        violations.add(at, "contains no objects")
        return
    crds = [o for o in manifest_objects(spec) if (o["apiVersion"], o["kind"]) == kube_kinds.CRD]
    known = kube_kinds.known_kinds(crds)
    seen: set[tuple[str, str, str]] = set()
    for position, obj in enumerate(objects):
        where = fp.index(at, position)
        key = (obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
        if (key[0], key[1]) not in known:
            violations.add(
                where,
                f"{key[1]} ({key[0]}) is not a kind every cluster serves, nor defined by a CRD in this "
                f"application; known kinds: {kube_kinds.describe_known(known)}",
            )
        if key in seen:
            violations.add(where, f"{key[1]} {key[2]} is declared twice")
        seen.add(key)
        if obj["metadata"].get("namespace"):
            violations.add(fp.child(where, "metadata.namespace"),
                           "leave it out: objects go into the deployment's namespace")


def _validate_job(component: application_pb2.Component, at: str, violations: fp.Violations) -> None:
    for name, present in (("storage", bool(component.storage)), ("probes", component.HasField("probes")),
                          ("autoscaling", component.HasField("autoscaling")),
                          ("disruption_budget", component.HasField("disruption_budget"))):
        if present:
            violations.add(fp.child(at, name), "is not for kind: job (a job runs to completion)")
    if component.schedule:
        fields = component.schedule.split()
        if component.schedule.startswith("@"):
            if component.schedule not in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"):
                violations.add(fp.child(at, "schedule"), f"{component.schedule!r} is not a cron macro "
                               "(@hourly, @daily, @weekly, @monthly, @yearly)")
        elif len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
            violations.add(fp.child(at, "schedule"), f"{component.schedule!r} is not a cron schedule: five fields, "
                           "minute hour day-of-month month day-of-week, e.g. '*/5 * * * *'")


def _validate_autoscaling(component: application_pb2.Component, at: str, violations: fp.Violations) -> None:
    scaling = component.autoscaling
    if scaling.min < 1:
        violations.add(fp.child(at, "min"), f"{scaling.min} is out of range: at least 1")
    if scaling.max < max(scaling.min, 1):
        violations.add(fp.child(at, "max"), f"{scaling.max} is below min ({scaling.min}): max must be at least min")
    for name in ("cpu", "memory"):
        value = getattr(scaling, name)
        if not 0 <= value <= 100:
            violations.add(fp.child(at, name), f"{value} is out of range: a utilisation percentage 1-100")
    if component.replicas > 1:
        violations.add(fp.child(at, "replicas"), "leave it out: with autoscaling the autoscaler sets the replicas "
                       "(between min and max)")


def _validate_budget(
    budget: application_pb2.DisruptionBudget, at: str, violations: fp.Violations
) -> None:
    if bool(budget.min_available) == bool(budget.max_unavailable):
        violations.add(at, "set exactly one of min_available and max_unavailable")
    for name in ("min_available", "max_unavailable"):
        value = getattr(budget, name)
        if value and (not _COUNT_OR_PERCENT.fullmatch(value) or (value.endswith("%") and int(value[:-1]) > 100)):
            violations.add(fp.child(at, name), f"{value!r} is not a count (2) or a percentage (50%)")


def validate_hooks(spec: application_pb2.ApplicationSpec, at: str, violations: fp.Violations) -> None:
    seen: set[str] = set()
    for position, name in enumerate(spec.hooks.pre_deploy):
        where = fp.index(fp.child(at, "pre_deploy"), position)
        component = spec.components.get(name)
        if component is None:
            declared = ", ".join(sorted(spec.components)) or "none"
            violations.add(where, f"{name!r} is not a component of this application; components: {declared}")
        elif kind_of(component) != JOB:
            violations.add(where, f"{name!r} is kind: {kind_of(component)}; a hook must be a kind: job component")
        elif component.schedule:
            violations.add(where, f"{name!r} has a schedule (a CronJob); a hook runs once per release")
        elif name in seen:
            violations.add(where, f"{name!r} is listed twice")
        seen.add(name)
