"""Marks the gateway's resources Ready as soon as they are stored.

Projects, principals, tokens and role bindings need no controller: once the row is written
there is nothing left to converge. Writing ``Ready`` with the current generation keeps them to
the platform-wide contract, so ``wait_ready`` and ``tptctl --wait`` work on them like on any
other resource.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.message import Message

from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.reconcile.status import mark_ready

M = TypeVar("M", bound=Message)

REASON = "Stored"


async def settle(repository: ResourceRepository[M, Any], resource: M) -> M:
    """The stored resource with Ready=True for its generation (unchanged when already so)."""
    name: str = getattr(resource, "name")  # noqa: B009 - every resource message has a name
    if not name:
        return resource

    def ready(current: Any) -> None:
        mark_ready(current, ready=True, reason=REASON, message=f"the {_kind(current)} is stored")

    updated = await repository.update_status(name, ready)
    return resource if updated is None else updated


def _kind(resource: Message) -> str:
    return resource.DESCRIPTOR.name.lower()
