"""The ServiceClaim reconciler: binds a claim to a managed service (creating it when needed),
passes class and parameter changes on to it, publishes its outputs to the claim (secrets
encrypted in the claim's row; only the internal ServiceClaim RPCs return them) and releases it
on deletion. A service shared by several claims (parameter ``instance``) goes only after the
last one, and only when its retain policy says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from threeport.common.v1alpha1 import change_event_pb2, event_pb2
from threeport.infra.v1alpha1 import managed_service_pb2, service_claim_pb2
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.domain.names import DNS_LABEL, last_segment
from threeport_infra_provider.domain.services import DELETE, effective_retain_policy, is_cloud, parameters
from threeport_infra_provider.store.repositories import Claims, ManagedServices
from threeport_infra_provider.store.sealed import SealedSecrets
from threeport_runtime.conditions import TRUE, find_condition
from threeport_runtime.db.fencing import current_fence
from threeport_runtime.errors import AlreadyExists, FailedPrecondition, NotFound
from threeport_runtime.reconcile.events import NORMAL, EventRecorder
from threeport_runtime.reconcile.result import PermanentError, Result
from threeport_runtime.reconcile.status import mark_ready

FINALIZER = "infra.threeport.io/service-claim"
CREATED_FOR = "infra.threeport.io/created-for"
WAIT = 2.0
ServiceClaim = service_claim_pb2.ServiceClaim
ManagedService = managed_service_pb2.ManagedService


def instance_id(claim: ServiceClaim) -> str:
    """The managed service a claim binds to: the shared ``instance`` it names, or one of its
    own named after its owner and dependency (with a uid suffix, so names never collide)."""
    shared = parameters(claim.spec.parameters).get("instance")
    if isinstance(shared, str) and shared:
        return shared
    stem = f"{last_segment(claim.spec.owner)}-{claim.spec.dependency}".lower()
    stem = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in stem).strip("-")[:48] or "service"
    if not claim.uid:
        # A claim being planned has no uid yet, so the suffix is not known.
        return f"{stem}-<id>"
    digest = hashlib.sha256(claim.uid.encode()).hexdigest()[:6]
    candidate = f"{stem}-{digest}"
    return candidate if DNS_LABEL.match(candidate) else f"service-{digest}"


def _spec_parameters(claim: ServiceClaim) -> dict[str, Any]:
    return {k: v for k, v in parameters(claim.spec.parameters).items() if k != "instance"}


class ClaimReconciler:
    def __init__(
        self,
        claims: Claims,
        services: ManagedServices,
        sealed: SealedSecrets,
        directory: AccountDirectory,
        events: EventRecorder,
    ):
        self._claims = claims
        self._services = services
        self._sealed = sealed
        self._directory = directory
        self._events = events

    async def __call__(self, name: str) -> Result | None:
        try:
            claim = await self._claims.get(name)
        except NotFound:
            return None
        if claim.HasField("delete_time"):
            await self._release(claim)
            await self._claims.remove_finalizer(name, FINALIZER)
            return None
        if not await self._claims.add_finalizer(name, FINALIZER):
            return None
        service = await self._bind(claim)
        if service is None:
            return Result(requeue_after=WAIT)
        await self._follow(claim, service)
        await self._publish(claim, service)
        return None

    async def _bind(self, claim: ServiceClaim) -> ManagedService | None:
        name = f"managedServices/{instance_id(claim)}"
        service = await self._services.find(name)
        if service is None:
            service = await self._create(claim, name)
        if service.HasField("delete_time"):
            await self._pend(claim, "WaitingForCleanup", f"{name} is still being deleted")
            return None
        if service.spec.type != claim.spec.type:
            raise PermanentError("TypeMismatch", f"{name} is a {service.spec.type}, the claim wants {claim.spec.type}")
        if claim.name not in service.status.claims:

            def add(stored: ManagedService) -> None:
                if claim.name not in stored.status.claims:
                    stored.status.claims.append(claim.name)

            service = await self._service_status(name, add) or service
            await self._event(claim, NORMAL, "Bound", f"bound to {name}")
        if claim.status.managed_service != name:
            await self._claims.update_status(claim.name, lambda stored: setattr(stored.status, "managed_service", name))
        return service

    async def _create(self, claim: ServiceClaim, name: str) -> ManagedService:
        try:
            account, region = await account_and_region(self._directory, claim)
        except FailedPrecondition as error:
            raise PermanentError("NoAccount", str(error)) from None
        wanted = service_for(claim, account, region)
        try:
            return await self._services.create(wanted, name=name, request_id=f"claim:{claim.uid}")
        except AlreadyExists:
            return await self._services.get(name)

    async def _follow(self, claim: ServiceClaim, service: ManagedService) -> None:
        """The claim's owner changes class or parameters: its own (unshared) service follows;
        the service's reconciler applies what AWS can change in place and refuses the rest."""
        changed = followed(claim, service)
        if changed is None:
            return
        await self._services.update(changed, ["spec.class", "spec.parameters"])
        await self._event(claim, NORMAL, "ServiceChanged", f"{service.name}: class or parameters changed")

    async def _publish(self, claim: ServiceClaim, service: ManagedService) -> None:
        ready = find_condition(service.conditions, "Ready")
        is_ready = ready is not None and ready.status == TRUE and ready.observed_generation == service.generation
        secrets = await self._sealed.get(service.name, service.uid) or {}
        exposed = _exposed_secrets(service, secrets)

        def mutate(stored: ServiceClaim) -> None:
            stored.status.managed_service = service.name
            stored.status.outputs.values.clear()
            stored.status.outputs.secrets.clear()
            if is_ready:
                stored.status.outputs.values.update(service.status.outputs)
                stored.status.outputs.secrets.update(exposed)
                mark_ready(stored, ready=True, reason="Bound", message=f"{service.name} is available")
            else:
                detail = ready.message if ready is not None else "being created"
                mark_ready(stored, ready=False, reason="Provisioning", message=f"{service.name}: {detail}")

        await self._claims.update_status(claim.name, mutate)

    async def _pend(self, claim: ServiceClaim, reason: str, message: str) -> None:
        await self._claims.update_status(
            claim.name, lambda s: mark_ready(s, ready=False, reason=reason, message=message)
        )

    async def _release(self, claim: ServiceClaim) -> None:
        name = claim.status.managed_service
        if not name:
            return

        def remove(stored: ManagedService) -> None:
            if claim.name in stored.status.claims:
                stored.status.claims.remove(claim.name)

        service = await self._service_status(name, remove)
        if service is None or service.status.claims or service.HasField("delete_time"):
            return
        policy = effective_retain_policy(service.spec.retain_policy, service.spec.type, service.spec.implementation)
        if policy == DELETE:
            await self._services.delete(name, allow_missing=True)
            await self._event(claim, NORMAL, "Released", f"{name} is used by no claim any more: deleting it")
        else:
            await self._event(
                claim,
                NORMAL,
                "Retained",
                f"{name} is used by no claim any more and is retained; delete it with "
                f"`tptctl delete service {last_segment(name)}`",
            )

    async def _service_status(self, name: str, mutate: Callable[[ManagedService], None]) -> ManagedService | None:
        """Writes a managed service's claim list. The fence of this reconcile is the claim's, not
        the service's, so the write runs unfenced (the row lock serialises it)."""
        token = current_fence.set(None)
        try:
            return await self._services.update_status(name, mutate)
        finally:
            current_fence.reset(token)

    async def _event(self, claim: ServiceClaim, kind: event_pb2.EventType.ValueType, reason: str, message: str) -> None:
        await self._events.record(
            resource=claim.name,
            resource_uid=claim.uid,
            type=kind,
            reason=reason,
            message=message,
            generation=claim.generation,
        )

    async def claims_of_service(self, event: change_event_pb2.ChangeEvent) -> list[str]:
        """Keys for a managed-service change: the claims bound to it."""
        page, _ = await self._claims.list(filter_text=f'status.managed_service = "{event.name}"', page_size=1000)
        return [claim.name for claim in page]


async def account_and_region(directory: AccountDirectory, claim: ServiceClaim) -> tuple[str, str]:
    """Where a cloud claim's service is made: its account (else the default one) and region (else
    the account's); FailedPrecondition when there is no such account. Empty for ``local``."""
    if not is_cloud(claim.spec.implementation):
        return "", claim.spec.region
    found = await directory.resolve(claim.spec.account)
    return found.name, claim.spec.region or found.spec.default_region


def service_for(claim: ServiceClaim, account: str, region: str) -> ManagedService:
    """The managed service a claim of its own gets (``account`` and ``region`` resolved)."""
    wanted = ManagedService(annotations={CREATED_FOR: claim.name})
    spec = wanted.spec
    spec.type, spec.implementation, spec.account, spec.region = (
        claim.spec.type,
        claim.spec.implementation,
        account,
        region,
    )
    setattr(spec, "class", getattr(claim.spec, "class"))
    spec.cluster, spec.namespace, spec.retain_policy = (
        claim.spec.cluster,
        claim.spec.namespace,
        claim.spec.retain_policy,
    )
    spec.parameters.update(_spec_parameters(claim))
    return wanted


def followed(claim: ServiceClaim, service: ManagedService) -> ManagedService | None:
    """The service with the class and parameters its claim now wants (``name`` and ``spec``), or
    None when it has them already or is not the claim's own (a shared service does not follow)."""
    if service.annotations.get(CREATED_FOR) != claim.name:
        return None
    wanted = _spec_parameters(claim)
    if parameters(service.spec.parameters) == wanted and getattr(service.spec, "class") == getattr(
        claim.spec, "class"
    ):
        return None
    changed = ManagedService(name=service.name)
    changed.spec.CopyFrom(service.spec)
    setattr(changed.spec, "class", getattr(claim.spec, "class"))
    changed.spec.parameters.Clear()
    changed.spec.parameters.update(wanted)
    return changed


def _exposed_secrets(service: ManagedService, sealed: dict[str, str]) -> dict[str, str]:
    """The sealed secrets a consumer gets: a secret's keys (sealed as ``key:NAME``), or the
    secret outputs of DESIGN §10.1 (passwords, connection strings, access keys)."""
    if service.spec.type == "secret":
        return {key.removeprefix("key:"): value for key, value in sealed.items() if key.startswith("key:")}
    return {
        key: value for key, value in sealed.items() if key in ("password", "url", "access_key_id", "secret_access_key")
    }
