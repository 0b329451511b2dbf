"""The Addon reconciler: a catalog entry that passed validation is Ready (reason ``Accepted``),
and its status counts the installations of it."""

from __future__ import annotations

from threeport.addons.v1alpha1 import addon_pb2
from threeport.common.v1alpha1 import change_event_pb2
from threeport_addon_manager.reconcilers.lookup import list_all
from threeport_addon_manager.store.repositories import Addons, Installations
from threeport_runtime.errors import NotFound
from threeport_runtime.reconcile.result import Result
from threeport_runtime.reconcile.status import mark_ready


class AddonReconciler:
    def __init__(self, addons: Addons, installations: Installations):
        self._addons = addons
        self._installations = installations

    async def __call__(self, name: str) -> Result | None:
        try:
            addon = await self._addons.get(name)
        except NotFound:
            return None
        if addon.HasField("delete_time"):
            return None
        count = len(await list_all(self._installations, f'spec.addon = "{name}"'))

        def accept(stored: addon_pb2.Addon) -> None:
            stored.status.installation_count = count
            versions = ", ".join(v.version for v in stored.spec.versions)
            mark_ready(stored, ready=True, reason="Accepted", message=f"versions {versions}")

        await self._addons.update_status(name, accept)
        return None

    async def addon_of_installation(self, event: change_event_pb2.ChangeEvent) -> list[str]:
        """Keys for an installation change: its addon, whose count may have changed."""
        installation = await self._installations.find(event.name)
        if installation is not None:
            return [installation.spec.addon]
        # Gone: which addon it was is no longer known; recount them all (the catalog is small).
        return sorted(a.name for a in await list_all(self._addons))
