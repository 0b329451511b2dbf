"""Reading several resources at once: all pages of a filtered list, and the installation of an
addon in a cluster (there is at most one: ``api/validation.py`` refuses a second)."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.message import Message

from threeport.addons.v1alpha1 import addon_installation_pb2
from threeport_addon_manager.store.repositories import Installations
from threeport_runtime.db.repository import ResourceRepository

M = TypeVar("M", bound=Message)


async def list_all(repository: ResourceRepository[M, Any], filter_text: str = "") -> list[M]:
    """Every live (not being deleted) resource matching the filter, all pages."""
    found: list[M] = []
    page_token = ""
    while True:
        page, page_token = await repository.list(
            filter_text=filter_text, hide_deleting=True, page_size=1000, page_token=page_token
        )
        found += page
        if not page_token:
            return found


async def installation_of(
    installations: Installations, addon: str, cluster: str
) -> addon_installation_pb2.AddonInstallation | None:
    """The live installation of ``addon`` in ``cluster``, if any."""
    page, _ = await installations.list(
        filter_text=f'spec.addon = "{addon}" AND spec.cluster = "{cluster}"', hide_deleting=True, page_size=1
    )
    return page[0] if page else None
