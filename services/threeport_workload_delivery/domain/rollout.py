"""Assesses a rollout from the live workloads and their Pods: progressing, available, or failed
with the real reason (``ImagePullBackOff`` for image x, ``ProgressDeadlineExceeded``, ...).

Workloads are Deployments and StatefulSets (available when every replica is updated and
ready), DaemonSets (when every scheduled Pod is), and Jobs (when complete; failed with the Job's
own reason, e.g. ``BackoffLimitExceeded``). CronJobs are not tracked: they run later.
An autoscaled workload is rendered without ``replicas``: the live count is the one to reach."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from threeport.delivery.v1alpha1 import deployment_pb2

Manifest = dict[str, Any]
PROGRESSING = deployment_pb2.ROLLOUT_PHASE_PROGRESSING
AVAILABLE = deployment_pb2.ROLLOUT_PHASE_AVAILABLE
FAILED = deployment_pb2.ROLLOUT_PHASE_FAILED

# Container waiting reasons that will not fix themselves without a change.
FAILING_REASONS = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CrashLoopBackOff", "CreateContainerConfigError"}
)


@dataclass(frozen=True)
class Assessment:
    phase: deployment_pb2.RolloutPhase.ValueType
    desired: int
    updated: int
    ready: int
    reason: str = ""
    message: str = ""


def _int(value: Any) -> int:
    return int(value or 0)


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def _pod_failure(desired: Manifest, pods: Sequence[Manifest], name: str) -> tuple[str, str] | None:
    """A container of the workload's Pods that waits for a reason that will not fix itself."""
    containers = desired["spec"]["template"]["spec"].get("containers") or [{}]
    image = containers[0].get("image", "")
    labels = desired["metadata"].get("labels") or {}
    component = labels.get("threeport.io/component", "")
    for pod in pods:
        if pod.get("metadata", {}).get("labels", {}).get("threeport.io/component") != component:
            continue
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAILING_REASONS and container.get("image") in (image, ""):
                detail = waiting.get("message") or ""
                message = f"{name}: container {container.get('name')} image {image}: {waiting['reason']}"
                return waiting["reason"], f"{message} ({detail})" if detail else message
    return None


def _workload(desired: Manifest, live: Manifest | None, pods: Sequence[Manifest]) -> Assessment:
    kind = desired["kind"]
    name = f"{kind} {desired['metadata']['name']}"
    if kind == "Job":
        return _job(desired, live, pods, name)
    replicas = _int(desired["spec"].get("replicas", 1))
    if live is None:
        return Assessment(PROGRESSING, 0 if kind == "DaemonSet" else replicas, 0, 0, "Pending",
                          f"{name} does not exist yet")
    if "replicas" not in desired["spec"] and kind != "DaemonSet":
        replicas = _int((live.get("spec") or {}).get("replicas", 1))  # an autoscaler's to set
    status = live.get("status") or {}
    observed = _int(status.get("observedGeneration")) >= _int(live.get("metadata", {}).get("generation"))
    if kind == "DaemonSet":
        replicas = _int(status.get("desiredNumberScheduled"))
        updated = _int(status.get("updatedNumberScheduled"))
        ready = _int(status.get("numberReady"))
    else:
        updated = _int(status.get("updatedReplicas"))
        ready = _int(status.get("readyReplicas"))
    if failure := _pod_failure(desired, pods, name):
        return Assessment(FAILED, replicas, updated, ready, *failure)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("status") == "False":
            reason = condition.get("reason") or "ProgressDeadlineExceeded"
            return Assessment(FAILED, replicas, updated, ready, reason,
                              f"{name}: {condition.get('message') or reason}")
    if kind == "StatefulSet":
        done = observed and ready >= replicas and updated >= replicas and _int(status.get("replicas")) == replicas
    elif kind == "DaemonSet":
        done = observed and updated >= replicas and _int(status.get("numberAvailable")) >= replicas
    else:
        available = _int(status.get("availableReplicas"))
        done = (observed and updated >= replicas and available >= replicas
                and _int(status.get("replicas")) == replicas)
    if done:
        return Assessment(AVAILABLE, replicas, updated, ready)
    return Assessment(PROGRESSING, replicas, updated, ready, "Progressing",
                      f"{name}: {updated}/{replicas} updated, {ready}/{replicas} ready")


def job_outcome(live: Manifest | None) -> tuple[str, str, str]:
    """(``Complete`` | ``Failed`` | ``Running``, reason, message) of a live Job."""
    for condition in ((live or {}).get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return condition["type"], condition.get("reason") or condition["type"], condition.get("message") or ""
    return "Running", "", ""


def _job(desired: Manifest, live: Manifest | None, pods: Sequence[Manifest], name: str) -> Assessment:
    if live is None:
        return Assessment(PROGRESSING, 1, 0, 0, "Pending", f"{name} does not exist yet")
    outcome, reason, message = job_outcome(live)
    if outcome == "Complete":
        return Assessment(AVAILABLE, 1, 1, 1)
    if outcome == "Failed":
        return Assessment(FAILED, 1, 0, 0, reason, f"{name} failed ({reason}): {message or reason}")
    if failure := _pod_failure(desired, pods, name):
        return Assessment(FAILED, 1, 0, 0, *failure)
    return Assessment(PROGRESSING, 1, 0, 0, "Running", f"{name} is running")


def assess(workloads: Sequence[tuple[Manifest, Manifest | None]], pods: Sequence[Manifest]) -> Assessment:
    """The rollout of all components: failed if any failed, available when all are."""
    parts = [_workload(desired, live, pods) for desired, live in workloads]
    desired = sum(p.desired for p in parts)
    updated = sum(p.updated for p in parts)
    ready = sum(p.ready for p in parts)
    if failed := [p for p in parts if p.phase == FAILED]:
        return Assessment(FAILED, desired, updated, ready, failed[0].reason, "; ".join(p.message for p in failed))
    if waiting := [p for p in parts if p.phase != AVAILABLE]:
        return Assessment(PROGRESSING, desired, updated, ready, "Progressing", "; ".join(p.message for p in waiting))
    return Assessment(AVAILABLE, desired, updated, ready, "Available", f"{len(parts)} component(s) available")
