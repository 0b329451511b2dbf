"""The dependency types the addon catalog provides, learned from the addon-manager.

The registry reads no other schema: it follows the addon-manager's Addon change events and asks
it (``GetAddon`` / ``ListAddons``, as a service) for each changed entry, keeping in memory which
types each addon ``provides`` and the names of its ``outputs`` and ``claimOutputs``. Application validation then
accepts those types and references to those outputs. Every replica keeps its own copy; the
controller's resync lists the whole catalog, so a replica that starts (or missed an event)
catches up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from threeport.sdk import AsyncClient, NotFoundError
from threeport_registry.domain.dependencies import ProvidedTypes
from threeport_runtime.reconcile.result import Result

ADDON_RESOURCE = "threeport.addons.v1alpha1.Addon"


class AddonTypes:
    def __init__(self, addons: AsyncClient | None):
        self._addons = addons
        # addon name -> (types it provides, its output names)
        self._entries: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    def provided(self) -> ProvidedTypes:
        """Each provided type with the outputs of every addon that provides it."""
        merged: dict[str, frozenset[str]] = {}
        for types, outputs in self._entries.values():
            for type_name in types:
                merged[type_name] = merged.get(type_name, frozenset()) | outputs
        return merged

    async def __call__(self, name: str) -> Result | None:
        if self._addons is None:
            return None
        try:
            addon = await self._addons.addon.get_addon(name=name)
        except NotFoundError:
            self._entries.pop(name, None)
            return None
        if addon.HasField("delete_time"):
            self._entries.pop(name, None)
        else:
            # Per-claim outputs (a topic, a host) are outputs a claim receives too.
            outputs = frozenset(addon.spec.outputs) | frozenset(addon.spec.claim_outputs)
            self._entries[name] = (frozenset(addon.spec.provides), outputs)
        return None

    async def names(self) -> AsyncIterator[str]:
        """Every catalog entry (the controller's resync)."""
        if self._addons is None:
            return
        page_token = ""
        while True:
            page = await self._addons.addon.list_addons_page(page_size=1000, page_token=page_token)
            for addon in page.addons:
                yield addon.name
            page_token = page.next_page_token
            if not page_token:
                return
