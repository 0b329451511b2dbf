"""The standard-method servicers. Every method is one call on the runtime's StandardMethods;
the rules run on the final message through ``validate`` (``api/validation.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from threeport.addons.v1alpha1 import (
    addon_claim_pb2,
    addon_claim_pb2_grpc,
    addon_installation_pb2,
    addon_installation_pb2_grpc,
    addon_pb2,
    addon_pb2_grpc,
    event_service_pb2,
    event_service_pb2_grpc,
)
from threeport_addon_manager.api.plan import ClaimPlanner
from threeport_addon_manager.api.validation import check_claim
from threeport_addon_manager.reconcilers.lookup import installation_of
from threeport_addon_manager.store.repositories import Claims, Installations
from threeport_runtime.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument
from threeport_runtime.reconcile.events import EventLister
from threeport_runtime.rpc.standard_methods import StandardMethods


class AddonServicer(addon_pb2_grpc.AddonServiceServicer):
    def __init__(self, methods: StandardMethods[addon_pb2.Addon], installations: Installations):
        self._methods = methods
        self._installations = installations

    async def CreateAddon(self, request: Any, context: Any) -> addon_pb2.Addon:
        return await self._methods.create(request)

    async def GetAddon(self, request: Any, context: Any) -> addon_pb2.Addon:
        return await self._methods.get(request)

    async def ListAddons(self, request: Any, context: Any) -> Any:
        return await self._methods.list(request, addon_pb2.ListAddonsResponse)

    async def UpdateAddon(self, request: Any, context: Any) -> addon_pb2.Addon:
        return await self._methods.update(request)

    async def DeleteAddon(self, request: Any, context: Any) -> addon_pb2.Addon:
        if not request.force:
            used, _ = await self._installations.list(
                filter_text=f'spec.addon = "{request.name}"', hide_deleting=True, page_size=10
            )
            if used:
                raise FailedPrecondition(
                    f"addon {request.name!r} is installed ({', '.join(i.name for i in used)}); "
                    "delete those installations first or pass force",
                    reason="RESOURCE_IN_USE",
                    metadata={"resource": request.name},
                )
        return await self._methods.delete(request)

    async def WatchAddons(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, addon_pb2.WatchAddonsResponse):
            yield response


class AddonInstallationServicer(addon_installation_pb2_grpc.AddonInstallationServiceServicer):
    def __init__(
        self, methods: StandardMethods[addon_installation_pb2.AddonInstallation], installations: Installations
    ):
        self._methods = methods
        self._installations = installations

    async def CreateAddonInstallation(self, request: Any, context: Any) -> addon_installation_pb2.AddonInstallation:
        spec = request.addon_installation.spec
        existing = await installation_of(self._installations, spec.addon, spec.cluster)
        if existing is not None and existing.name != f"addonInstallations/{request.addon_installation_id}":
            # One installation per addon and cluster: two would fight over the same objects. (The
            # same name is the repository's to answer: a retried create returns the first one.)
            raise AlreadyExists(
                f"{spec.addon} is already installed in {spec.cluster} as {existing.name}; update that one",
                metadata={"resource": existing.name},
            )
        return await self._methods.create(request)

    async def GetAddonInstallation(self, request: Any, context: Any) -> addon_installation_pb2.AddonInstallation:
        return await self._methods.get(request)

    async def ListAddonInstallations(self, request: Any, context: Any) -> Any:
        return await self._methods.list(request, addon_installation_pb2.ListAddonInstallationsResponse)

    async def UpdateAddonInstallation(self, request: Any, context: Any) -> addon_installation_pb2.AddonInstallation:
        current = await self._installations.find(request.addon_installation.name)
        wanted = request.addon_installation.spec
        paths = set(request.update_mask.paths) or {"spec"}
        if current is not None and paths & {"spec", "spec.addon", "spec.cluster"}:
            # Moving an installation would orphan what it installed: make a new one instead.
            moved = [
                FieldViolation(f"addon_installation.spec.{field}", "cannot change; delete it and create another")
                for field in ("addon", "cluster")
                if getattr(wanted, field) and getattr(wanted, field) != getattr(current.spec, field)
            ]
            if moved:
                raise InvalidArgument.for_fields(moved)
        return await self._methods.update(request)

    async def DeleteAddonInstallation(self, request: Any, context: Any) -> addon_installation_pb2.AddonInstallation:
        return await self._methods.delete(request)

    async def WatchAddonInstallations(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, addon_installation_pb2.WatchAddonInstallationsResponse):
            yield response


class AddonClaimServicer(addon_claim_pb2_grpc.AddonClaimServiceServicer):
    def __init__(self, methods: StandardMethods[addon_claim_pb2.AddonClaim], claims: Claims, planner: ClaimPlanner):
        self._methods = methods
        self._claims = claims
        self._planner = planner

    async def PlanAddonClaim(self, request: Any, context: Any) -> addon_claim_pb2.PlanAddonClaimResponse:
        return await self._planner.plan(request)

    async def CreateAddonClaim(self, request: Any, context: Any) -> addon_claim_pb2.AddonClaim:
        return await self._methods.create(request)

    async def GetAddonClaim(self, request: Any, context: Any) -> addon_claim_pb2.AddonClaim:
        return await self._methods.get(request)

    async def ListAddonClaims(self, request: Any, context: Any) -> Any:
        return await self._methods.list(request, addon_claim_pb2.ListAddonClaimsResponse)

    async def UpdateAddonClaim(self, request: Any, context: Any) -> addon_claim_pb2.AddonClaim:
        # The consumer changed class, params or placement; the claim reconciler binds it anew.
        return await self._claims.update(
            request.addon_claim,
            list(request.update_mask.paths),
            validate_only=request.validate_only,
            validate=check_claim,
        )

    async def DeleteAddonClaim(self, request: Any, context: Any) -> addon_claim_pb2.AddonClaim:
        return await self._methods.delete(request)

    async def WatchAddonClaims(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, addon_claim_pb2.WatchAddonClaimsResponse):
            yield response


class EventServicer(event_service_pb2_grpc.EventServiceServicer):
    def __init__(self, events: EventLister):
        self._events = events

    async def ListEvents(
        self, request: event_service_pb2.ListEventsRequest, context: Any
    ) -> event_service_pb2.ListEventsResponse:
        return await self._events.respond(request, event_service_pb2.ListEventsResponse)
