"""CustomResourceDefinition controller: serves a CRD's resources as soon as it is stored, reports
it Established, and stops serving (dropping its objects) when it is deleted."""

from __future__ import annotations

from typing import Any

from threeport_kubesim.controllers.runtime import Controller
from threeport_kubesim.controllers.workloads import set_condition
from threeport_kubesim.meta import clone, now_rfc3339
from threeport_kubesim.resources import ResourceRegistry, ResourceType, ScalePaths
from threeport_kubesim.store import GroupResource, ObjectStore

CRDS: GroupResource = ("apiextensions.k8s.io", "customresourcedefinitions")


def resource_types_of(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    result = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or spec.get("subresources") or {}
        scale_spec = subresources.get("scale")
        scale = None
        if isinstance(scale_spec, dict):
            scale = ScalePaths(
                scale_spec.get("specReplicasPath", ".spec.replicas").lstrip("."),
                scale_spec.get("statusReplicasPath", ".status.replicas").lstrip("."),
                (scale_spec.get("labelSelectorPath") or "").lstrip(".") or None,
            )
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version.get("name", "v1"),
                resource=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                has_status="status" in subresources,
                scale=scale,
                has_generation=True,
                custom=True,
                schema=schema,
            )
        )
    return result


def register_crd(registry: ResourceRegistry, crd: dict[str, Any]) -> None:
    spec = crd.get("spec") or {}
    registry.remove_group_resource(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
    for rtype in resource_types_of(crd):
        registry.add(rtype)


def unregister_crd(registry: ResourceRegistry, store: ObjectStore, crd: dict[str, Any]) -> None:
    spec = crd.get("spec") or {}
    group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
    registry.remove_group_resource(group, plural)
    store.drop_resource((group, plural))


class CrdController(Controller):
    name = "crds"

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        # Registration happens right here, synchronously with the write, so the very next request
        # may use the new resource (clients still wait for Established, which follows shortly).
        if event_type == "DELETED":
            unregister_crd(self.ctx.api.registry, self.ctx.api.store, obj)
            return []
        register_crd(self.ctx.api.registry, obj)
        return [("", obj["metadata"]["name"])]

    def reconcile(self, _: str, name: str) -> None:
        api = self.ctx.api
        crd = api.store.get_object(CRDS, "", name)
        if crd is None:
            return
        spec = crd.get("spec") or {}
        now = now_rfc3339()
        status = clone(crd.get("status") or {})
        conditions = set_condition(
            status.get("conditions") or [],
            "NamesAccepted",
            "True",
            "NoConflicts",
            "no conflicts found",
            now,
            with_update_time=False,
        )
        conditions = set_condition(
            conditions,
            "Established",
            "True",
            "InitialNamesAccepted",
            "the initial names have been accepted",
            now,
            with_update_time=False,
        )
        status["conditions"] = conditions
        names = clone(spec.get("names") or {})
        names.setdefault("singular", str(names.get("kind", "")).lower())
        names.setdefault("listKind", f"{names.get('kind', '')}List")
        status["acceptedNames"] = names
        stored = [v.get("name") for v in spec.get("versions") or [] if v.get("storage")]
        status["storedVersions"] = sorted(set(status.get("storedVersions") or []) | set(stored))
        if status != crd.get("status"):
            new = clone(crd)
            new["status"] = status
            api.controller_write(self.ctx.rtype(CRDS), crd, new, subresource="status")
