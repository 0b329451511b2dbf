"""DaemonSet controller: one Pod per schedulable Node, replaced one at a time on template change."""

from __future__ import annotations

from typing import Any

from threeport_kubesim.controllers.pods import pod_is_active, pod_is_ready
from threeport_kubesim.controllers.runtime import NODES, PODS, Controller
from threeport_kubesim.controllers.workloads import changed_keys, pod_from_template, template_hash
from threeport_kubesim.meta import clone
from threeport_kubesim.store import GroupResource

DAEMONSETS: GroupResource = ("apps", "daemonsets")
COMPONENT = "daemonset-controller"
REVISION_LABEL = "controller-revision-hash"


class DaemonSetController(Controller):
    name = "daemonsets"

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        if group_resource == DAEMONSETS:
            return [] if event_type == "DELETED" else [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        if group_resource == NODES:
            return [
                (ds["metadata"]["namespace"], ds["metadata"]["name"])
                for ds in self.ctx.api.store.iter_objects(DAEMONSETS)
            ]
        return changed_keys(obj, old, "DaemonSet")

    def reconcile(self, namespace: str, name: str) -> None:
        api = self.ctx.api
        ds = api.store.get_object(DAEMONSETS, namespace, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        spec = ds.get("spec") or {}
        revision = template_hash(spec.get("template"))
        nodes = [n["metadata"]["name"] for n in self.ctx.nodes() if not (n.get("spec") or {}).get("unschedulable")]
        pods = [p for p in self.ctx.children(ds["metadata"]["uid"], PODS) if pod_is_active(p)]
        by_node: dict[str, dict[str, Any]] = {}
        pod_type = self.ctx.rtype(PODS)
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName", "")
            if node not in nodes or node in by_node:
                api.controller_delete(pod_type, pod)
                continue
            by_node[node] = pod
        for node in nodes:
            if node in by_node:
                continue
            pod = pod_from_template(
                ds,
                spec.get("template") or {},
                None,
                {
                    REVISION_LABEL: revision,
                    "pod-template-generation": str(ds["metadata"].get("generation", 1)),
                },
            )
            pod["spec"]["nodeName"] = node
            created = api.controller_write(pod_type, None, pod)
            if created is not None:
                by_node[node] = created
                self.ctx.event(
                    ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", COMPONENT
                )
        live = list(by_node.values())
        if all(pod_is_ready(p) for p in live):
            stale = [p for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision]
            if stale:
                api.controller_delete(pod_type, stale[0])
                self.ctx.event(
                    ds,
                    "Normal",
                    "SuccessfulDelete",
                    f"Deleted pod: {stale[0]['metadata']['name']}",
                    COMPONENT,
                )
        ready = sum(1 for p in live if pod_is_ready(p))
        updated = sum(1 for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision)
        status: dict[str, Any] = {
            "currentNumberScheduled": len(live),
            "desiredNumberScheduled": len(nodes),
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": updated,
            "observedGeneration": ds["metadata"].get("generation", 1),
        }
        if len(nodes) - ready > 0:
            status["numberUnavailable"] = len(nodes) - ready
        if status != (ds.get("status") or {}):
            new = clone(ds)
            new["status"] = status
            api.controller_write(self.ctx.rtype(DAEMONSETS), ds, new, subresource="status")
