"""Garbage collector: deletes dependents whose owners are all gone, and carries out the
`foregroundDeletion` and `orphan` finalizers of owners deleted with those propagation policies."""

from __future__ import annotations

from typing import Any

from threeport_kubesim.controllers.runtime import Controller
from threeport_kubesim.meta import clone
from threeport_kubesim.store import GroupResource

FINALIZERS = ("foregroundDeletion", "orphan")


class GarbageCollector(Controller):
    """Work keys are (namespace, "group/resource/name") for dependents to check and
    (namespace, "owner:group/resource/name") for owners with a GC finalizer."""

    name = "garbage-collector"

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        metadata = obj["metadata"]
        if event_type == "DELETED" or not metadata.get("deletionTimestamp"):
            return []
        if not set(metadata.get("finalizers") or []) & set(FINALIZERS):
            return []
        return [
            (
                metadata.get("namespace", ""),
                f"owner:{group_resource[0]}/{group_resource[1]}/{metadata['name']}",
            )
        ]

    def reconcile(self, namespace: str, name: str) -> None:
        if name.startswith("owner:"):
            self._finish_owner(namespace, name[len("owner:") :])
        else:
            self._check_dependent(namespace, name)

    def _split(self, ref: str) -> tuple[GroupResource, str]:
        group, resource, object_name = ref.split("/", 2)
        return (group, resource), object_name

    def _owner_alive(self, namespace: str, ref: dict[str, Any]) -> bool:
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        rtype = self.ctx.api.registry.by_kind(group, str(ref.get("kind", "")))
        if rtype is None:
            return False
        stored = self.ctx.api.store.get(rtype.key, namespace if rtype.namespaced else "", str(ref.get("name", "")))
        return stored is not None and f'"uid":"{ref.get("uid")}"'.encode() in stored.raw

    def _check_dependent(self, namespace: str, ref: str) -> None:
        group_resource, object_name = self._split(ref)
        api = self.ctx.api
        obj = api.store.get_object(group_resource, namespace, object_name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        owners = obj["metadata"].get("ownerReferences") or []
        alive = [r for r in owners if self._owner_alive(namespace, r)]
        if len(alive) == len(owners):
            return
        rtype = self.ctx.rtype(group_resource)
        if not alive:
            api.controller_delete(rtype, obj)
            return
        new = clone(obj)
        new["metadata"]["ownerReferences"] = alive
        api.controller_write(rtype, obj, new, subresource="all")

    def _finish_owner(self, namespace: str, ref: str) -> None:
        group_resource, object_name = self._split(ref)
        api = self.ctx.api
        owner = api.store.get_object(group_resource, namespace, object_name)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        finalizers = owner["metadata"].get("finalizers") or []
        uid = owner["metadata"]["uid"]
        dependents = sorted(self.ctx.dependents.get(uid, ()))
        rtype = self.ctx.rtype(group_resource)
        if "orphan" in finalizers:
            for dep_gr, dep_ns, dep_name in dependents:
                dep = api.store.get_object(dep_gr, dep_ns, dep_name)
                if dep is None:
                    continue
                new = clone(dep)
                new["metadata"]["ownerReferences"] = [
                    r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != uid
                ]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                api.controller_write(self.ctx.rtype(dep_gr), dep, new, subresource="all")
            api.remove_finalizer(rtype, owner, "orphan")
            return
        if "foregroundDeletion" in finalizers:
            if dependents:
                for dep_gr, dep_ns, dep_name in dependents:
                    dep = api.store.get_object(dep_gr, dep_ns, dep_name)
                    if dep is not None and not dep["metadata"].get("deletionTimestamp"):
                        api.controller_delete(self.ctx.rtype(dep_gr), dep, policy="Foreground")
                self.ctx.enqueue(self.name, namespace, f"owner:{ref}", 0.2)
                return
            api.remove_finalizer(rtype, owner, "foregroundDeletion")
