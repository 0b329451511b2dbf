"""Deployment controller: one ReplicaSet per pod template, rolling (or recreating) from old to new
within maxSurge/maxUnavailable, with the status counters and the Available/Progressing conditions
(including ProgressDeadlineExceeded) that `kubectl rollout status` and `kubectl wait` read."""

from __future__ import annotations

import time
from typing import Any

from threeport_kubesim.controllers.replicasets import REPLICASETS
from threeport_kubesim.controllers.runtime import Controller, SimContext
from threeport_kubesim.controllers.workloads import (
    changed_keys,
    resolve_int_or_percent,
    set_condition,
    template_hash,
)
from threeport_kubesim.meta import clone, now_rfc3339, owner_reference, parse_rfc3339
from threeport_kubesim.store import GroupResource

DEPLOYMENTS: GroupResource = ("apps", "deployments")
COMPONENT = "deployment-controller"
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"


def _replicas(obj: dict[str, Any]) -> int:
    return int((obj.get("spec") or {}).get("replicas", 0) or 0)


def _status(obj: dict[str, Any], field: str) -> int:
    return int((obj.get("status") or {}).get(field, 0) or 0)


def _revision(obj: dict[str, Any]) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


class DeploymentController(Controller):
    name = "deployments"

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        # Deployment UID -> wall time of the last observed progress (drives the progress deadline).
        self._progress_at: dict[str, float] = {}

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        if group_resource == DEPLOYMENTS:
            if event_type == "DELETED":
                self._progress_at.pop(obj["metadata"].get("uid", ""), None)
                return []
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        return changed_keys(obj, old, "Deployment")

    def reconcile(self, namespace: str, name: str) -> None:
        api = self.ctx.api
        deployment = api.store.get_object(DEPLOYMENTS, namespace, name)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        spec = deployment.get("spec") or {}
        rs_type = self.ctx.rtype(REPLICASETS)
        all_rs = self.ctx.children(deployment["metadata"]["uid"], REPLICASETS)
        pod_hash = template_hash(spec.get("template"))
        new_rs = next((rs for rs in all_rs if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == pod_hash), None)
        old_rs = sorted((rs for rs in all_rs if rs is not new_rs), key=_revision)
        progressed = False
        if spec.get("paused"):
            self._write_status(deployment, new_rs, all_rs, progressed=False)
            return
        if new_rs is None:
            new_rs = self._create_replicaset(deployment, pod_hash, old_rs)
            if new_rs is None:
                return
            all_rs.append(new_rs)
            progressed = True
        elif old_rs and _revision(new_rs) <= max(_revision(rs) for rs in old_rs):
            # Rolling back to an older template reuses its ReplicaSet under the next revision.
            self._set_revision(deployment, new_rs, max(_revision(rs) for rs in old_rs) + 1)
        desired = _replicas(deployment)
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            progressed |= self._recreate(deployment, new_rs, old_rs, desired)
        else:
            progressed |= self._roll(deployment, new_rs, old_rs, desired, strategy.get("rollingUpdate") or {})
        self._cleanup(deployment, old_rs, rs_type)
        current = [rs for rs in self.ctx.children(deployment["metadata"]["uid"], REPLICASETS)]
        new_current = next((rs for rs in current if rs["metadata"]["uid"] == new_rs["metadata"]["uid"]), new_rs)
        self._write_status(deployment, new_current, current, progressed)

    def _create_replicaset(
        self, deployment: dict[str, Any], pod_hash: str, old_rs: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        spec = deployment["spec"]
        template = clone(spec.get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = clone(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        revision = max([_revision(rs) for rs in old_rs] + [0]) + 1
        labels = dict(template["metadata"]["labels"])
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{deployment['metadata']['name']}-{pod_hash}",
                "namespace": deployment["metadata"]["namespace"],
                "labels": labels,
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(_replicas(deployment)),
                },
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {
                "replicas": 0,
                "selector": selector,
                "template": template,
                "minReadySeconds": spec.get("minReadySeconds", 0),
            },
        }
        created = self.ctx.api.controller_write(self.ctx.rtype(REPLICASETS), None, rs)
        if created is not None:
            self._annotate_revision(deployment, revision)
        return created

    def _annotate_revision(self, deployment: dict[str, Any], revision: int) -> None:
        annotations = dict(deployment["metadata"].get("annotations") or {})
        if annotations.get(REVISION) != str(revision):
            annotations[REVISION] = str(revision)
            new = clone(deployment)
            new["metadata"]["annotations"] = annotations
            written = self.ctx.api.controller_write(self.ctx.rtype(DEPLOYMENTS), deployment, new)
            if written is not None:
                deployment.update(written)

    def _set_revision(self, deployment: dict[str, Any], rs: dict[str, Any], revision: int) -> None:
        new = clone(rs)
        new["metadata"].setdefault("annotations", {})[REVISION] = str(revision)
        written = self.ctx.api.controller_write(self.ctx.rtype(REPLICASETS), rs, new)
        if written is not None:
            rs.update(written)
            self._annotate_revision(deployment, revision)

    def _scale(self, deployment: dict[str, Any], rs: dict[str, Any], replicas: int) -> bool:
        current = _replicas(rs)
        if current == replicas:
            return False
        new = clone(rs)
        new["spec"]["replicas"] = replicas
        annotations = new["metadata"].setdefault("annotations", {})
        annotations["deployment.kubernetes.io/desired-replicas"] = str(_replicas(deployment))
        written = self.ctx.api.controller_write(self.ctx.rtype(REPLICASETS), rs, new)
        if written is None:
            return False
        rs.update(written)
        direction = "up" if replicas > current else "down"
        self.ctx.event(
            deployment,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} from {current} to {replicas}",
            COMPONENT,
        )
        return True

    def _recreate(
        self, deployment: dict[str, Any], new_rs: dict[str, Any], old_rs: list[dict[str, Any]], desired: int
    ) -> bool:
        progressed = False
        for rs in old_rs:
            progressed |= self._scale(deployment, rs, 0)
        if any(_status(rs, "replicas") > 0 or _replicas(rs) > 0 for rs in old_rs):
            return progressed
        return self._scale(deployment, new_rs, desired) or progressed

    def _roll(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any],
        old_rs: list[dict[str, Any]],
        desired: int,
        rolling: dict[str, Any],
    ) -> bool:
        max_surge = resolve_int_or_percent(rolling.get("maxSurge", "25%"), desired, round_up=True)
        max_unavailable = resolve_int_or_percent(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
        if max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        progressed = False
        active_old = [rs for rs in old_rs if _replicas(rs) > 0]
        if not active_old:
            return self._scale(deployment, new_rs, desired)
        total = _replicas(new_rs) + sum(_replicas(rs) for rs in active_old)
        allowed = desired + max_surge
        if _replicas(new_rs) < desired and total < allowed:
            target = min(desired, _replicas(new_rs) + allowed - total)
            progressed |= self._scale(deployment, new_rs, target)
        elif _replicas(new_rs) > desired:
            progressed |= self._scale(deployment, new_rs, desired)
        min_available = desired - max_unavailable
        total = _replicas(new_rs) + sum(_replicas(rs) for rs in active_old)
        new_unavailable = max(0, _replicas(new_rs) - _status(new_rs, "availableReplicas"))
        budget = total - min_available - new_unavailable
        for rs in active_old:
            if budget <= 0:
                break
            reduce_by = min(budget, _replicas(rs))
            progressed |= self._scale(deployment, rs, _replicas(rs) - reduce_by)
            budget -= reduce_by
        return progressed

    def _cleanup(self, deployment: dict[str, Any], old_rs: list[dict[str, Any]], rs_type: Any) -> None:
        limit = int((deployment.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [rs for rs in old_rs if _replicas(rs) == 0 and _status(rs, "replicas") == 0]
        for rs in idle[: max(0, len(idle) - limit)]:
            self.ctx.api.controller_delete(rs_type, rs)

    def _write_status(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any] | None,
        all_rs: list[dict[str, Any]],
        progressed: bool,
    ) -> None:
        spec = deployment.get("spec") or {}
        desired = _replicas(deployment)
        replicas = sum(_status(rs, "replicas") for rs in all_rs)
        updated = _status(new_rs, "replicas") if new_rs is not None else 0
        ready = sum(_status(rs, "readyReplicas") for rs in all_rs)
        available = sum(_status(rs, "availableReplicas") for rs in all_rs)
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = (
            resolve_int_or_percent(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
            if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
            else 0
        )
        old_status = deployment.get("status") or {}
        now = now_rfc3339()
        status: dict[str, Any] = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": updated,
        }
        if ready:
            status["readyReplicas"] = ready
        if available:
            status["availableReplicas"] = available
        if replicas - available > 0:
            status["unavailableReplicas"] = replicas - available
        conditions = list(old_status.get("conditions") or [])
        if available >= desired - max_unavailable:
            conditions = set_condition(
                conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            )
        else:
            conditions = set_condition(
                conditions,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            )
        rs_name = new_rs["metadata"]["name"] if new_rs is not None else ""
        counters = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        progressed = progressed or any(status.get(k, 0) != old_status.get(k, 0) for k in counters)
        complete = updated == desired and replicas == desired and available == desired
        uid = deployment["metadata"]["uid"]
        wall = time.time()
        previous = next((c for c in conditions if c.get("type") == "Progressing"), None)
        if previous is None or progressed or uid not in self._progress_at:
            self._progress_at[uid] = wall
        if spec.get("paused"):
            conditions = set_condition(
                conditions, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now
            )
        elif complete:
            conditions = set_condition(
                conditions,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
            )
        elif previous is not None and previous.get("reason") == "ProgressDeadlineExceeded" and not progressed:
            pass
        else:
            deadline = self.ctx.timing.scaled(float(spec.get("progressDeadlineSeconds", 600)))
            stalled_for = wall - self._progress_at[uid]
            if stalled_for >= deadline and not progressed:
                conditions = set_condition(
                    conditions,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                    now,
                )
                self.ctx.event(
                    deployment,
                    "Warning",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                    COMPONENT,
                )
            else:
                reason = "NewReplicaSetCreated" if updated == 0 and _status_missing(previous) else "ReplicaSetUpdated"
                message = (
                    f'Created new replica set "{rs_name}"'
                    if reason == "NewReplicaSetCreated"
                    else f'ReplicaSet "{rs_name}" is progressing.'
                )
                if progressed or previous is None or previous.get("status") != "True":
                    conditions = set_condition(conditions, "Progressing", "True", reason, message, now)
                namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
                self.ctx.enqueue(self.name, namespace, name, max(0.01, deadline - stalled_for) + 0.01)
        status["conditions"] = _order_conditions(conditions)
        if _comparable(status) == _comparable(old_status):
            return
        new = clone(deployment)
        new["status"] = status
        self.ctx.api.controller_write(self.ctx.rtype(DEPLOYMENTS), deployment, new, subresource="status")


def _status_missing(condition: dict[str, Any] | None) -> bool:
    return condition is None or condition.get("reason") == "NewReplicaSetCreated"


def _order_conditions(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {"Available": 0, "Progressing": 1}
    return sorted(conditions, key=lambda c: order.get(str(c.get("type")), 2))


def _comparable(status: dict[str, Any]) -> Any:
    # Timestamps alone never justify a write (that would loop forever).
    conditions = [
        {k: v for k, v in c.items() if k not in ("lastUpdateTime", "lastTransitionTime")}
        for c in status.get("conditions") or []
    ]
    return {**status, "conditions": conditions}


def seconds_since(timestamp: str) -> float:
    return time.time() - parse_rfc3339(timestamp)
