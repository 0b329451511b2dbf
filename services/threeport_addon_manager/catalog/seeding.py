"""Loads the built-in catalog (``builtin/*.yaml``, the same ``kind: Addon`` manifests operators
apply) and keeps the stored entries in step with it at start.

A built-in entry is created when missing and its spec replaced when this release ships a
different one: that is how a platform upgrade rolls new addon versions to every installation
(the installation controller watches the catalog). Operator entries are never touched.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from google.protobuf import json_format

from threeport.addons.v1alpha1 import addon_pb2
from threeport_addon_manager.store.repositories import Addons
from threeport_runtime.errors import AlreadyExists


def builtin_addons() -> list[addon_pb2.Addon]:
    """The catalog shipped with the project, in file order."""
    found: list[addon_pb2.Addon] = []
    folder = resources.files("threeport_addon_manager.catalog") / "builtin"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        for document in yaml.safe_load_all(entry.read_text(encoding="utf-8")):
            if document:
                found.append(_addon(document))
    return found


def _addon(document: dict[str, Any]) -> addon_pb2.Addon:
    metadata = document.get("metadata") or {}
    addon = json_format.ParseDict({"spec": document["spec"]}, addon_pb2.Addon())
    addon.name = f"addons/{metadata['name']}"
    addon.labels.update(metadata.get("labels") or {})
    return addon


async def seed_builtin_catalog(addons: Addons) -> None:
    for builtin in builtin_addons():
        stored = await addons.find(builtin.name)
        if stored is None:
            try:
                await addons.create(builtin, name=builtin.name)
            except AlreadyExists:
                continue  # another replica seeded it
        elif not stored.status.system_default or stored.spec == builtin.spec:
            continue  # an operator's entry of the same name, or already current
        else:
            builtin.etag = stored.etag
            await addons.update(builtin, ["spec"])

        def mark(entry: addon_pb2.Addon) -> None:
            entry.status.system_default = True

        await addons.update_status(builtin.name, mark)
