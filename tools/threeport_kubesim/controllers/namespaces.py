"""Namespace lifecycle: every namespace gets a `default` ServiceAccount; a deleted namespace stays
Terminating until everything in it is gone, then disappears."""

from __future__ import annotations

import time
from typing import Any

from threeport_kubesim.controllers.runtime import Controller, SimContext
from threeport_kubesim.meta import clone
from threeport_kubesim.store import GroupResource

NAMESPACES: GroupResource = ("", "namespaces")
SERVICE_ACCOUNTS: GroupResource = ("", "serviceaccounts")


class NamespaceController(Controller):
    name = "namespaces"

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        # Namespace UID -> monotonic time its cleanup may start.
        self._cleanup_at: dict[str, float] = {}

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        if group_resource == NAMESPACES:
            return [] if event_type == "DELETED" else [("", obj["metadata"]["name"])]
        namespace = obj["metadata"].get("namespace", "")
        if event_type == "DELETED" and namespace:
            ns = self.ctx.api.store.get(NAMESPACES, "", namespace)
            if ns is not None and b'"deletionTimestamp"' in ns.raw:
                return [("", namespace)]
        return []

    def reconcile(self, _: str, name: str) -> None:
        api = self.ctx.api
        namespace = api.store.get_object(NAMESPACES, "", name)
        if namespace is None:
            return
        if not namespace["metadata"].get("deletionTimestamp"):
            if api.store.get(SERVICE_ACCOUNTS, name, "default") is None:
                api.controller_write(
                    self.ctx.rtype(SERVICE_ACCOUNTS),
                    None,
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": "default", "namespace": name},
                    },
                )
            return
        uid = namespace["metadata"]["uid"]
        start = self._cleanup_at.setdefault(
            uid, time.monotonic() + self.ctx.timing.scaled(self.ctx.timing.namespace_cleanup)
        )
        if time.monotonic() < start:
            self.ctx.enqueue(self.name, "", name, start - time.monotonic())
            return
        remaining = 0
        for rtype in api.registry.all():
            if not rtype.namespaced or rtype.version != _storage_version(api.registry, rtype):
                continue
            for _key, stored in api.store.items(rtype.key, name):
                remaining += 1
                obj = stored.decode()
                if not obj["metadata"].get("deletionTimestamp"):
                    api.controller_delete(rtype, obj)
        if remaining and any(api.store.items(rtype.key, name) for rtype in api.registry.all() if rtype.namespaced):
            # Objects held by finalizers: look again shortly (their deletion also re-triggers us).
            self.ctx.enqueue(self.name, "", name, 0.5)
            return
        new = clone(namespace)
        new.setdefault("spec", {})["finalizers"] = []
        if not new["metadata"].get("finalizers"):
            self._cleanup_at.pop(uid, None)
            api.store.remove(NAMESPACES, new)
        else:
            api.controller_write(self.ctx.rtype(NAMESPACES), namespace, new, subresource="all")


def _storage_version(registry: Any, rtype: Any) -> str:
    # Several versions of one custom resource share storage: delete through one of them only.
    versions = [r.version for r in registry.all() if r.key == rtype.key]
    return str(sorted(versions)[0])
