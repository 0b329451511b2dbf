"""The toy controller: derives ``status.dependency_types`` and Ready, holds a finalizer.

It follows the reconcile idiom: only a name comes in, everything is re-read, and the same code
path serves creation, change and resync. ``spec.description == "unsatisfiable"`` simulates a
terminal error so tests can see Stalled/FAILED.
"""

from __future__ import annotations

from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime.errors import NotFound
from threeport_runtime.reconcile.events import NORMAL, EventRecorder
from threeport_runtime.reconcile.result import PermanentError, Result
from threeport_runtime.reconcile.status import mark_ready

from .servicer import Applications

FINALIZER = "toy.threeport.io/cleanup"


class ApplicationReconciler:
    def __init__(self, applications: Applications, events: EventRecorder):
        self._applications = applications
        self._events = events

    async def __call__(self, name: str) -> Result | None:
        try:
            application = await self._applications.get(name)
        except NotFound:
            return None  # Gone: nothing left to converge.
        if application.HasField("delete_time"):
            await self._applications.remove_finalizer(name, FINALIZER)
            return None
        await self._applications.add_finalizer(name, FINALIZER)
        if application.spec.description == "unsatisfiable":
            raise PermanentError("Unsatisfiable", "the description asks for the impossible; change it")
        dependency_types = sorted({d.type for d in application.spec.dependencies.values()})

        def converge(stored: application_pb2.Application) -> None:
            del stored.status.dependency_types[:]
            stored.status.dependency_types.extend(dependency_types)
            mark_ready(stored, ready=True, reason="Converged", message="dependency types are up to date")

        updated = await self._applications.update_status(name, converge)
        if updated is not None and updated.etag != application.etag:
            await self._events.record(
                resource=name,
                resource_uid=application.uid,
                type=NORMAL,
                reason="Converged",
                message=f"generation {application.generation} converged",
                generation=application.generation,
            )
        return None
