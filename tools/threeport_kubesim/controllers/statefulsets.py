"""StatefulSet controller: ordinal Pods (name-0, name-1, ...) created in order (or in parallel),
PersistentVolumeClaims from volumeClaimTemplates, rolling updates from the highest ordinal down."""

from __future__ import annotations

from typing import Any

from threeport_kubesim.controllers.pods import pod_is_active, pod_is_ready
from threeport_kubesim.controllers.runtime import PODS, Controller
from threeport_kubesim.controllers.workloads import changed_keys, pod_from_template, template_hash
from threeport_kubesim.meta import clone, owner_reference
from threeport_kubesim.store import GroupResource

STATEFULSETS: GroupResource = ("apps", "statefulsets")
PVCS: GroupResource = ("", "persistentvolumeclaims")
COMPONENT = "statefulset-controller"
REVISION_LABEL = "controller-revision-hash"


class StatefulSetController(Controller):
    name = "statefulsets"

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        if group_resource == STATEFULSETS:
            return [] if event_type == "DELETED" else [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        return changed_keys(obj, old, "StatefulSet")

    def reconcile(self, namespace: str, name: str) -> None:
        api = self.ctx.api
        sts = api.store.get_object(STATEFULSETS, namespace, name)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        spec = sts.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        revision = f"{name}-{template_hash(spec.get('template'))}"
        pods = {p["metadata"]["name"]: p for p in self.ctx.children(sts["metadata"]["uid"], PODS) if pod_is_active(p)}
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pod_type = self.ctx.rtype(PODS)
        blocked = False
        for ordinal in range(desired):
            pod_name = f"{name}-{ordinal}"
            pod = pods.get(pod_name)
            if pod is None:
                self._create_claims(sts, ordinal)
                pod = pod_from_template(
                    sts,
                    spec.get("template") or {},
                    pod_name,
                    {
                        REVISION_LABEL: revision,
                        "statefulset.kubernetes.io/pod-name": pod_name,
                        "apps.kubernetes.io/pod-index": str(ordinal),
                    },
                )
                pod["spec"]["hostname"] = pod_name
                if spec.get("serviceName"):
                    pod["spec"]["subdomain"] = spec["serviceName"]
                created = api.controller_write(pod_type, None, pod)
                if created is not None:
                    pods[pod_name] = created
                    self.ctx.event(
                        sts,
                        "Normal",
                        "SuccessfulCreate",
                        f"create Pod {pod_name} in StatefulSet {name} successful",
                        COMPONENT,
                    )
                if ordered:
                    blocked = True
                    break
            elif ordered and not pod_is_ready(pod):
                blocked = True
                break
        extra = sorted(
            (p for n, p in pods.items() if _ordinal(n, name) >= desired),
            key=lambda p: -_ordinal(p["metadata"]["name"], name),
        )
        for pod in extra[:1] if ordered else extra:
            api.controller_delete(pod_type, pod)
            pods.pop(pod["metadata"]["name"], None)
            self.ctx.event(
                sts,
                "Normal",
                "SuccessfulDelete",
                f"delete Pod {pod['metadata']['name']} in StatefulSet {name} successful",
                COMPONENT,
            )
        partition = int(((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0))
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        in_range = [p for n, p in pods.items() if _ordinal(n, name) < desired]
        if rolling and not blocked and not extra and all(pod_is_ready(p) for p in in_range):
            stale = sorted(
                (
                    p
                    for p in in_range
                    if _revision(p) != revision and _ordinal(p["metadata"]["name"], name) >= partition
                ),
                key=lambda p: -_ordinal(p["metadata"]["name"], name),
            )
            if stale:
                api.controller_delete(pod_type, stale[0])
                pods.pop(stale[0]["metadata"]["name"], None)
        live = list(pods.values())
        ready = sum(1 for p in live if pod_is_ready(p))
        updated = sum(1 for p in live if _revision(p) == revision)
        current_revision = (sts.get("status") or {}).get("currentRevision", revision)
        if updated == len(live) == desired:
            current_revision = revision
        status: dict[str, Any] = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "currentReplicas": sum(1 for p in live if _revision(p) == current_revision),
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": 0,
            "availableReplicas": ready,
        }
        if ready:
            status["readyReplicas"] = ready
        if status != (sts.get("status") or {}):
            new = clone(sts)
            new["status"] = status
            api.controller_write(self.ctx.rtype(STATEFULSETS), sts, new, subresource="status")

    def _create_claims(self, sts: dict[str, Any], ordinal: int) -> None:
        namespace, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            claim_name = f"{(template.get('metadata') or {}).get('name', 'data')}-{name}-{ordinal}"
            if self.ctx.api.store.get(PVCS, namespace, claim_name) is not None:
                continue
            claim: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": claim_name,
                    "namespace": namespace,
                    "labels": dict((sts["spec"].get("selector") or {}).get("matchLabels") or {}),
                },
                "spec": clone(template.get("spec") or {}),
            }
            policy = (sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted")
            if policy == "Delete":
                claim["metadata"]["ownerReferences"] = [owner_reference(sts, controller=False)]
            self.ctx.api.controller_write(self.ctx.rtype(PVCS), None, claim)


def _ordinal(pod_name: str, sts_name: str) -> int:
    suffix = pod_name[len(sts_name) + 1 :]
    return int(suffix) if suffix.isdigit() else -1


def _revision(pod: dict[str, Any]) -> str:
    return str((pod["metadata"].get("labels") or {}).get(REVISION_LABEL, ""))
