"""Job controller: runs `parallelism` Pods at a time until `completions` have succeeded, then
marks the Job Complete; when more Pods failed than `backoffLimit` (default 6) allows, it stops,
removes the active Pods' count and marks the Job Failed (`BackoffLimitExceeded`), as
kube-controller-manager does. Retries follow at once (the real controller waits 10s, 20s, ...)."""

from __future__ import annotations

from typing import Any

from threeport_kubesim.controllers.pods import pod_is_ready
from threeport_kubesim.controllers.runtime import PODS, Controller
from threeport_kubesim.controllers.workloads import changed_keys, pod_from_template, set_condition
from threeport_kubesim.meta import clone, now_rfc3339
from threeport_kubesim.store import GroupResource

JOBS: GroupResource = ("batch", "jobs")
COMPONENT = "job-controller"


class JobController(Controller):
    name = "jobs"

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        if group_resource == JOBS:
            return [] if event_type == "DELETED" else [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        return changed_keys(obj, old, "Job")

    def reconcile(self, namespace: str, name: str) -> None:
        api = self.ctx.api
        job = api.store.get_object(JOBS, namespace, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        spec = job.get("spec") or {}
        status = clone(job.get("status") or {})
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in status.get("conditions") or []):
            return
        pods = self.ctx.children(job["metadata"]["uid"], PODS)
        phases = [(p.get("status") or {}).get("phase", "Pending") for p in pods]
        succeeded = phases.count("Succeeded")
        failed = phases.count("Failed")
        active = [p for p, phase in zip(pods, phases, strict=True) if phase in ("Pending", "Running")]
        completions = int(spec.get("completions", 1) or 1)
        parallelism = int(spec.get("parallelism", 1))
        now = now_rfc3339()
        backoff_limit = int(spec.get("backoffLimit", 6))
        if failed > backoff_limit:
            self._fail(job, status, succeeded, failed, now)
            return
        if not spec.get("suspend"):
            status.setdefault("startTime", now)
            wanted = min(parallelism, completions - succeeded) - len(active)
            for _ in range(max(0, wanted)):
                created = api.controller_write(
                    self.ctx.rtype(PODS), None, pod_from_template(job, spec.get("template") or {})
                )
                if created is not None:
                    active.append(created)
                    self.ctx.event(
                        job,
                        "Normal",
                        "SuccessfulCreate",
                        f"Created pod: {created['metadata']['name']}",
                        COMPONENT,
                    )
        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if pod_is_ready(p))
        status["terminating"] = 0
        status["uncountedTerminatedPods"] = {}
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        if succeeded >= completions:
            status["active"] = 0
            status["completionTime"] = now
            conditions = set_condition(
                status.get("conditions") or [],
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
                with_update_time=False,
            )
            status["conditions"] = set_condition(
                conditions,
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
                with_update_time=False,
            )
            for condition in status["conditions"]:
                condition["lastProbeTime"] = now
            self.ctx.event(job, "Normal", "Completed", "Job completed", COMPONENT)
        if status != (job.get("status") or {}):
            new = clone(job)
            new["status"] = status
            api.controller_write(self.ctx.rtype(JOBS), job, new, subresource="status")

    def _fail(self, job: dict[str, Any], status: dict[str, Any], succeeded: int, failed: int, now: str) -> None:
        message = "Job has reached the specified backoff limit"
        status["active"] = 0
        status["ready"] = 0
        status["failed"] = failed
        if succeeded:
            status["succeeded"] = succeeded
        conditions = set_condition(
            status.get("conditions") or [], "FailureTarget", "True", "BackoffLimitExceeded", message, now,
            with_update_time=False,
        )
        status["conditions"] = set_condition(
            conditions, "Failed", "True", "BackoffLimitExceeded", message, now, with_update_time=False
        )
        for condition in status["conditions"]:
            condition["lastProbeTime"] = now
        self.ctx.event(job, "Warning", "BackoffLimitExceeded", message, COMPONENT)
        new = clone(job)
        new["status"] = status
        self.ctx.api.controller_write(self.ctx.rtype(JOBS), job, new, subresource="status")
