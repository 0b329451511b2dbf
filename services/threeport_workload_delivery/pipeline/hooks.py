"""Pre-deploy hooks: apply the hook jobs (and what they use) before anything else of the
release, and say whether they are done, still running, or failed; a failure carries the failed
Pod's log tail, read from the cluster as ``kubectl logs --tail`` would.

Hook Jobs are named after their content (``domain.render_jobs``), so a Job that already
completed for this content is not run again on later passes.
"""

from __future__ import annotations

from collections.abc import Mapping

from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.errors import KubeError
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.domain.diffing import ObjectKey, in_sync, object_key
from threeport_workload_delivery.domain.rendering import Manifest
from threeport_workload_delivery.domain.rollout import AVAILABLE, FAILED, PROGRESSING, Assessment, assess, job_outcome

LOG_TAIL_LINES = 20


async def run_hooks(
    client: KubeClient, hooks: list[Manifest], live: Mapping[ObjectKey, Manifest], namespace: str
) -> Assessment:
    """Applies the hook objects that are missing or drifted; AVAILABLE once every hook Job completed."""
    for manifest in hooks:
        if not in_sync(live.get(object_key(manifest)), manifest):
            await client.apply(manifest)
    jobs = [o for o in hooks if o["kind"] == "Job"]
    component_of = {id(j): j["metadata"]["labels"].get(names.COMPONENT_LABEL, "") for j in jobs}
    selector = ",".join(f"{k}={v}" for k, v in names_for(jobs).items())
    pods = await client.list("v1", "Pod", selector, namespace) if jobs else []
    waiting: list[str] = []
    for job in jobs:
        current = await client.get(job)
        component = component_of[id(job)]
        outcome, _, _ = job_outcome(current)
        assessment = assess([(job, current)], pods)
        if assessment.phase == FAILED:
            tail = await _log_tail(client, current, pods) if outcome == "Failed" else ""
            message = f"pre-deploy hook {component}: {assessment.message}"
            return Assessment(FAILED, 1, 0, 0, assessment.reason,
                              f"{message}; last log lines:\n{tail}" if tail else message)
        if assessment.phase != AVAILABLE:
            waiting.append(f"pre-deploy hook {component}: {assessment.message}")
    if waiting:
        return Assessment(PROGRESSING, len(jobs), 0, 0, "WaitingForHooks", "; ".join(waiting))
    return Assessment(AVAILABLE, len(jobs), len(jobs), len(jobs), "HooksComplete", f"{len(jobs)} hook(s) complete")


def names_for(jobs: list[Manifest]) -> dict[str, str]:
    """The labels every hook Pod carries (the deployment's, without the component)."""
    labels = dict(jobs[0]["metadata"]["labels"]) if jobs else {}
    return {k: v for k, v in labels.items()
            if k in (names.MANAGED_BY, names.PROJECT_LABEL, names.DEPLOYMENT_LABEL)}


async def _log_tail(client: KubeClient, job: Manifest | None, pods: list[Manifest]) -> str:
    """The last lines of the newest failed Pod of ``job``; what went wrong reading it, if anything."""
    uid = ((job or {}).get("metadata") or {}).get("uid")
    owned = [p for p in pods if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])]
    failed = [p for p in owned if (p.get("status") or {}).get("phase") == "Failed"] or owned
    if not failed:
        return ""
    pod = max(failed, key=lambda p: str(p["metadata"].get("creationTimestamp", "")))
    try:
        text = await client.pod_log(pod["metadata"]["namespace"], pod["metadata"]["name"], tail_lines=LOG_TAIL_LINES)
    except KubeError as error:
        return f"(the log of pod {pod['metadata']['name']} could not be read: {error})"
    return text.rstrip("\n")
