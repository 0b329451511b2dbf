"""The ManagedService reconciler: builds the service with its implementation, records its
inventory, publishes its values (secrets stay sealed), checks it periodically against what
exists (``InSync`` or the difference, as an event), and tears it down on deletion following
the retain policy.

The generated password is sealed *before* the first create, so a crash at any point resumes
with the same password and the same (deterministic) resource names: no duplicate, no leak.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Mapping

from threeport.common.v1alpha1 import event_pb2, state_pb2
from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.domain.services import RETAIN, effective_retain_policy, parameters
from threeport_infra_provider.implementations.base import (
    CloudResource,
    Converged,
    Implementation,
    ImplementationError,
    Refused,
)
from threeport_infra_provider.implementations.registry import unavailable_reason
from threeport_infra_provider.store.repositories import ManagedServices
from threeport_infra_provider.store.sealed import SealedSecrets
from threeport_runtime.conditions import FALSE, set_condition
from threeport_runtime.errors import FailedPrecondition, NotFound
from threeport_runtime.reconcile.events import NORMAL, WARNING, EventRecorder
from threeport_runtime.reconcile.result import PermanentError, Result, TemporaryError
from threeport_runtime.reconcile.status import mark_ready

FINALIZER = "infra.threeport.io/managed-service"
IN_SYNC = "InSync"
ManagedService = managed_service_pb2.ManagedService


class ManagedServiceReconciler:
    def __init__(
        self,
        services: ManagedServices,
        sealed: SealedSecrets,
        implementations: Mapping[str, Implementation],
        events: EventRecorder,
        *,
        poll: float,
        drift_check: float,
    ):
        self._services = services
        self._sealed = sealed
        self._implementations = implementations
        self._events = events
        self._poll = poll
        self._drift_check = drift_check

    async def __call__(self, name: str) -> Result | None:
        try:
            service = await self._services.get(name)
        except NotFound:
            return None
        implementation = self._implementations.get(service.spec.implementation)
        if implementation is None:
            raise PermanentError("ImplementationUnavailable", unavailable_reason(service.spec.implementation))
        if service.HasField("delete_time"):
            return await self._delete(service, implementation)
        if not await self._services.add_finalizer(name, FINALIZER):
            return None
        secrets = await self._secrets(service)
        try:
            converged = await implementation.converge(service, secrets, lambda entry: self._record(name, entry))
        except Refused as refused:
            await self._report(service, ready=False, reason="ChangeRefused", message=str(refused))
            await self._event(service, WARNING, "ChangeRefused", str(refused))
            return Result(requeue_after=self._drift_check)
        except (ImplementationError, FailedPrecondition) as error:
            await self._report(service, ready=False, reason="ProviderError", message=str(error))
            raise TemporaryError(str(error)) from None
        if converged.outputs.secrets != {k: v for k, v in secrets.items() if k in converged.outputs.secrets}:
            await self._sealed.put(service.name, service.uid, secrets | converged.outputs.secrets)
        await self._publish(service, converged)
        return Result(requeue_after=self._drift_check if converged.ready else self._poll)

    async def _secrets(self, service: ManagedService) -> dict[str, str]:
        """The sealed secrets, generating (and sealing first) what the service needs."""
        stored = await self._sealed.get(service.name, service.uid) or {}
        wanted = dict(stored)
        wanted.setdefault("password", random.token_urlsafe(24))
        for key in parameters(service.spec.parameters).get("keys", []) if service.spec.type == "secret" else []:
            wanted.setdefault(f"key:{key}", random.token_urlsafe(24))
        if wanted != stored:
            await self._sealed.put(service.name, service.uid, wanted)
        return wanted

    async def _record(self, name: str, entry: CloudResource) -> None:
        def mutate(stored: ManagedService) -> None:
            for existing in stored.status.inventory:
                if existing.type == entry.type and existing.id == entry.id:
                    existing.CopyFrom(entry)
                    return
            stored.status.inventory.append(entry)

        await self._services.update_status(name, mutate)

    async def _publish(self, service: ManagedService, converged: Converged) -> None:
        was_ready = service.state == state_pb2.STATE_READY
        before_drift = {c.message for c in service.conditions if c.type == IN_SYNC and c.status == FALSE}

        def mutate(stored: ManagedService) -> None:
            stored.status.outputs.clear()
            stored.status.outputs.update(converged.outputs.values)
            known = {(r.type, r.id): r for r in converged.inventory}
            kept = [r for r in stored.status.inventory if (r.type, r.id) not in known]
            del stored.status.inventory[:]
            stored.status.inventory.extend(kept + converged.inventory)
            drift = "; ".join(converged.drift)
            set_condition(
                stored.conditions,
                IN_SYNC,
                not converged.drift,
                reason="Drift" if drift else "InSync",
                message=drift or "matches what exists",
                observed_generation=stored.generation,
            )
            mark_ready(
                stored,
                ready=converged.ready,
                reason="Available" if converged.ready else "Provisioning",
                message=converged.message,
            )

        await self._services.update_status(service.name, mutate)
        for change in converged.changes:
            await self._event(service, NORMAL, "Modified", change)
        if converged.drift and "; ".join(converged.drift) not in before_drift:
            await self._event(service, WARNING, "Drift", "; ".join(converged.drift))
        elif converged.ready and not was_ready:
            await self._event(service, NORMAL, "Available", converged.message)

    async def _report(self, service: ManagedService, *, ready: bool, reason: str, message: str) -> None:
        await self._services.update_status(
            service.name, lambda stored: mark_ready(stored, ready=ready, reason=reason, message=message)
        )

    async def _delete(self, service: ManagedService, implementation: Implementation) -> Result | None:
        retain = effective_retain_policy(service.spec.retain_policy, service.spec.type, service.spec.implementation)
        try:
            gone = await implementation.delete(service, retain=retain == RETAIN)
        except (ImplementationError, FailedPrecondition) as error:
            await self._report(service, ready=False, reason="DeleteFailed", message=str(error))
            raise TemporaryError(str(error)) from None
        if not gone:
            await self._report(service, ready=False, reason="Deleting", message="waiting for the provider to delete it")
            return Result(requeue_after=self._poll)
        await self._event(service, NORMAL, "Deleted", f"{service.spec.implementation} {service.spec.type} deleted")
        await self._sealed.delete(service.name)
        await self._services.remove_finalizer(service.name, FINALIZER)
        return None

    async def _event(
        self, service: ManagedService, kind: event_pb2.EventType.ValueType, reason: str, message: str
    ) -> None:
        await self._events.record(
            resource=service.name,
            resource_uid=service.uid,
            type=kind,
            reason=reason,
            message=message,
            generation=service.generation,
        )
