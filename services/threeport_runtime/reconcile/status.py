"""Status helpers reconcilers share: Ready/Stalled conditions written through the repository."""

from __future__ import annotations

from typing import Any

from threeport_runtime.conditions import READY, STALLED, remove_condition, set_condition
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.reconcile.controller import PermanentErrorHandler
from threeport_runtime.reconcile.result import PermanentError


def stall_writer(repository: ResourceRepository[Any, Any]) -> PermanentErrorHandler:
    """A ``on_permanent_error`` handler: Ready=False and Stalled=True with the error's reason."""

    async def write(name: str, error: PermanentError) -> None:
        def mark(resource: Any) -> None:
            for condition_type in (READY, STALLED):
                set_condition(
                    resource.conditions,
                    condition_type,
                    condition_type == STALLED,
                    reason=error.reason,
                    message=error.message,
                    observed_generation=resource.generation,
                )

        await repository.update_status(name, mark)

    return write


def mark_ready(resource: Any, *, ready: bool, reason: str, message: str = "") -> None:
    """Sets Ready for the resource's current generation and clears a stale Stalled."""
    set_condition(
        resource.conditions,
        READY,
        ready,
        reason=reason,
        message=message,
        observed_generation=resource.generation,
    )
    remove_condition(resource.conditions, STALLED)
