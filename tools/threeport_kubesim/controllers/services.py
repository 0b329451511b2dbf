"""Network and storage provisioning: LoadBalancer Services and Ingresses get an address after a
simulated provisioning delay; PersistentVolumeClaims become Bound."""

from __future__ import annotations

from typing import Any

from threeport_kubesim.controllers.runtime import Controller
from threeport_kubesim.meta import clone
from threeport_kubesim.store import GroupResource

SERVICES: GroupResource = ("", "services")
INGRESSES: GroupResource = ("networking.k8s.io", "ingresses")
PVCS: GroupResource = ("", "persistentvolumeclaims")


def _key(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]


class LoadBalancerController(Controller):
    name = "load-balancers"

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        if event_type == "DELETED":
            return []
        if group_resource == SERVICES and (obj.get("spec") or {}).get("type") != "LoadBalancer":
            return []
        if ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return []
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        prefix = "svc" if group_resource == SERVICES else "ing"
        self.ctx.enqueue(
            self.name, namespace, f"{prefix}/{name}", self.ctx.timing.scaled(self.ctx.timing.load_balancer)
        )
        return []

    def reconcile(self, namespace: str, name: str) -> None:
        prefix, _, object_name = name.partition("/")
        group_resource = SERVICES if prefix == "svc" else INGRESSES
        obj = self.ctx.api.store.get_object(group_resource, namespace, object_name)
        if obj is None or ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return
        if group_resource == SERVICES and (obj.get("spec") or {}).get("type") != "LoadBalancer":
            return
        new = clone(obj)
        ingress: dict[str, Any] = {"ip": self.ctx.api.ips.load_balancer_ip()}
        if group_resource == SERVICES:
            ingress["ipMode"] = "VIP"
            self.ctx.event(obj, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer", "service-controller")
        new.setdefault("status", {})["loadBalancer"] = {"ingress": [ingress]}
        written = self.ctx.api.controller_write(self.ctx.rtype(group_resource), obj, new, subresource="status")
        if written is not None and group_resource == SERVICES:
            self.ctx.event(written, "Normal", "EnsuredLoadBalancer", "Ensured load balancer", "service-controller")


class VolumeBinder(Controller):
    name = "volumes"

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        if event_type == "DELETED" or (obj.get("status") or {}).get("phase") == "Bound":
            return []
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        self.ctx.enqueue(self.name, namespace, name, self.ctx.timing.scaled(self.ctx.timing.volume_bind))
        return []

    def reconcile(self, namespace: str, name: str) -> None:
        claim = self.ctx.api.store.get_object(PVCS, namespace, name)
        if claim is None or (claim.get("status") or {}).get("phase") == "Bound":
            return
        spec = claim.get("spec") or {}
        new = clone(claim)
        new["spec"]["volumeName"] = f"pvc-{claim['metadata']['uid']}"
        new["status"] = {
            "phase": "Bound",
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")},
        }
        written = self.ctx.api.controller_write(self.ctx.rtype(PVCS), claim, new, subresource="all")
        if written is not None:
            self.ctx.event(
                written,
                "Normal",
                "ProvisioningSucceeded",
                f"Successfully provisioned volume {new['spec']['volumeName']}",
                "sim-provisioner",
            )
