"""Assesses a rollout from the live workloads and their Pods: progressing, available, or failed
with the real reason (``ImagePullBackOff`` for image x, ``ProgressDeadlineExceeded``, ...)."""

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


def _workload(desired: Manifest, live: Manifest | None, pods: Sequence[Manifest]) -> Assessment:
    name = f"{desired['kind']} {desired['metadata']['name']}"
    replicas = _int(desired["spec"].get("replicas", 1))
    if live is None:
        return Assessment(PROGRESSING, replicas, 0, 0, "Pending", f"{name} does not exist yet")
    status = live.get("status") or {}
    observed = _int(status.get("observedGeneration")) >= _int(live.get("metadata", {}).get("generation"))
    updated = _int(status.get("updatedReplicas"))
    ready = _int(status.get("readyReplicas"))
    image = desired["spec"]["template"]["spec"]["containers"][0]["image"]
    component = desired["metadata"]["labels"].get("threeport.io/component", "")
    for pod in pods:
        if pod.get("metadata", {}).get("labels", {}).get("threeport.io/component") != component:
            continue
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAILING_REASONS and container.get("image") in (image, ""):
                detail = waiting.get("message") or ""
                message = f"{name}: container {container.get('name')} image {image}: {waiting['reason']}"
                return Assessment(FAILED, replicas, updated, ready, waiting["reason"],
                                  f"{message} ({detail})" if detail else message)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("status") == "False":
            reason = condition.get("reason") or "ProgressDeadlineExceeded"
            return Assessment(FAILED, replicas, updated, ready, reason,
                              f"{name}: {condition.get('message') or reason}")
    if desired["kind"] == "StatefulSet":
        done = observed and ready >= replicas and updated >= replicas and _int(status.get("replicas")) == replicas
    else:
        available = _int(status.get("availableReplicas"))
        done = (observed and updated >= replicas and available >= replicas
                and _int(status.get("replicas")) == replicas)
    if done:
        return Assessment(AVAILABLE, replicas, updated, ready)
    return Assessment(PROGRESSING, replicas, updated, ready, "Progressing",
                      f"{name}: {updated}/{replicas} updated, {ready}/{replicas} ready")


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
