"""When a Kubernetes object counts as ready, the way ``kubectl rollout status`` and ``kubectl
wait`` judge it. Pure: it reads the object's JSON and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Readiness:
    ready: bool
    message: str


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def _condition_true(obj: dict[str, Any], kind: str) -> Readiness:
    condition = _condition(obj, kind)
    if condition is not None and condition.get("status") == "True":
        return Readiness(True, f"{kind}")
    detail = (condition or {}).get("message") or (condition or {}).get("reason") or "not yet"
    return Readiness(False, f"waiting for condition {kind}: {detail}")


def _observed(obj: dict[str, Any]) -> bool:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return generation is None or (observed is not None and observed >= generation)


def _replicas(obj: dict[str, Any], ready_field: str) -> Readiness:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get(ready_field) or 0)
    if not _observed(obj):
        return Readiness(False, "waiting for the controller to observe the latest spec")
    if updated < wanted:
        return Readiness(False, f"{updated} of {wanted} replicas updated")
    if ready < wanted:
        return Readiness(False, f"{ready} of {wanted} updated replicas available")
    return Readiness(True, f"{ready}/{wanted} replicas available")


def _daemon_set(obj: dict[str, Any]) -> Readiness:
    status = obj.get("status") or {}
    wanted = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    if not _observed(obj):
        return Readiness(False, "waiting for the controller to observe the latest spec")
    if updated < wanted or available < wanted:
        return Readiness(False, f"{available} of {wanted} pods available ({updated} updated)")
    return Readiness(True, f"{available}/{wanted} pods available")


def _phase(obj: dict[str, Any], wanted: str) -> Readiness:
    phase = (obj.get("status") or {}).get("phase", "")
    return Readiness(phase == wanted, f"phase {phase or 'unknown'}")


def readiness(obj: dict[str, Any]) -> Readiness:
    """Whether ``obj`` is ready, and what it waits for when not. Kinds without a notion of
    readiness are ready once they exist; others with a ``Ready`` condition use it."""
    kind = obj.get("kind", "")
    if kind == "Deployment":
        return _replicas(obj, "availableReplicas")
    if kind in ("StatefulSet", "ReplicaSet"):
        return _replicas(obj, "readyReplicas")
    if kind == "DaemonSet":
        return _daemon_set(obj)
    if kind == "Pod":
        return _condition_true(obj, "Ready")
    if kind == "Job":
        return _condition_true(obj, "Complete")
    if kind == "CustomResourceDefinition":
        return _condition_true(obj, "Established")
    if kind == "Namespace":
        return _phase(obj, "Active")
    if kind == "PersistentVolumeClaim":
        return _phase(obj, "Bound")
    if _condition(obj, "Ready") is not None:
        return _condition_true(obj, "Ready")
    return Readiness(True, "exists")
