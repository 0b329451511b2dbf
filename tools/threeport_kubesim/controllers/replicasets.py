"""ReplicaSet controller: keeps the number of owned Pods at spec.replicas and reports status."""

from __future__ import annotations

from typing import Any

from threeport_kubesim.controllers.pods import pod_is_active, pod_is_ready
from threeport_kubesim.controllers.runtime import PODS, Controller
from threeport_kubesim.controllers.workloads import changed_keys, pod_from_template
from threeport_kubesim.meta import clone
from threeport_kubesim.store import GroupResource

REPLICASETS: GroupResource = ("apps", "replicasets")
COMPONENT = "replicaset-controller"


class ReplicaSetController(Controller):
    name = "replicasets"

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        if group_resource == REPLICASETS:
            if event_type == "DELETED":
                return []
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        return changed_keys(obj, old, "ReplicaSet")

    def reconcile(self, namespace: str, name: str) -> None:
        api = self.ctx.api
        rs = api.store.get_object(REPLICASETS, namespace, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        pods = [p for p in self.ctx.children(rs["metadata"]["uid"], PODS) if pod_is_active(p)]
        desired = int((rs.get("spec") or {}).get("replicas", 1))
        pod_type = self.ctx.rtype(PODS)
        if len(pods) < desired:
            template = (rs.get("spec") or {}).get("template") or {}
            for _ in range(desired - len(pods)):
                created = api.controller_write(pod_type, None, pod_from_template(rs, template))
                if created is not None:
                    pods.append(created)
                    self.ctx.event(
                        rs,
                        "Normal",
                        "SuccessfulCreate",
                        f"Created pod: {created['metadata']['name']}",
                        COMPONENT,
                    )
        elif len(pods) > desired:
            # Like kube: remove unscheduled, then not-ready, then the newest pods first.
            victims = sorted(
                pods,
                key=lambda p: (
                    bool((p.get("spec") or {}).get("nodeName")),
                    pod_is_ready(p),
                    p["metadata"].get("creationTimestamp", ""),
                ),
            )
            victims = sorted(victims[: len(pods) - desired], key=lambda p: p["metadata"]["name"])
            for pod in victims:
                api.controller_delete(pod_type, pod)
                pods.remove(pod)
                self.ctx.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", COMPONENT)
        ready = sum(1 for p in pods if pod_is_ready(p))
        status: dict[str, Any] = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        if status != (rs.get("status") or {}):
            new = clone(rs)
            new["status"] = status
            api.controller_write(self.ctx.rtype(REPLICASETS), rs, new, subresource="status")
