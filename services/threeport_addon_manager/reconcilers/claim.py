"""The AddonClaim reconciler: binds a claim to the one managed installation of its addon in its
cluster (creating it when needed) and publishes that installation's outputs to the consumer.

Reference counting is not a counter kept in step: an installation's users are the claims whose
``status.installation`` names it (and the installations that require it), counted by the
installation reconciler each time. A claim being deleted wakes its installation so the count
drops at once.
"""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf import json_format

from threeport.addons.v1alpha1 import addon_claim_pb2, addon_installation_pb2, addon_pb2
from threeport.common.v1alpha1 import change_event_pb2, event_pb2
from threeport_addon_manager.domain.catalog import choose_provider, no_provider_message
from threeport_addon_manager.domain.installations import installation_name
from threeport_addon_manager.installers.charts import ChartError
from threeport_addon_manager.installers.render import render_outputs
from threeport_addon_manager.reconcilers.lookup import installation_of, list_all
from threeport_addon_manager.store.repositories import Addons, Claims, Installations
from threeport_runtime.conditions import READY, find_condition, is_ready
from threeport_runtime.errors import AlreadyExists, NotFound
from threeport_runtime.reconcile.events import NORMAL, WARNING, EventRecorder
from threeport_runtime.reconcile.result import Result, TemporaryError
from threeport_runtime.reconcile.status import mark_ready

CLAIM_FINALIZER = "addons.threeport.io/claim"
PENDING_RETRY = 5.0

Enqueue = Callable[[str], None]


class ClaimReconciler:
    def __init__(self, claims: Claims, addons: Addons, installations: Installations, events: EventRecorder):
        self._claims = claims
        self._addons = addons
        self._installations = installations
        self._events = events
        # Set by the service: the installation controller's enqueue, so usage changes show at once.
        self.enqueue_installation: Enqueue = lambda _name: None

    async def __call__(self, name: str) -> Result | None:
        try:
            claim = await self._claims.get(name)
        except NotFound:
            return None
        if claim.HasField("delete_time"):
            await self._claims.remove_finalizer(name, CLAIM_FINALIZER)
            if claim.status.installation:
                self.enqueue_installation(claim.status.installation)
            return None
        if not await self._claims.add_finalizer(name, CLAIM_FINALIZER):
            return None
        addon = await self._addon_for(claim)
        if addon is None:
            return Result(requeue_after=PENDING_RETRY)
        installation = await self._ensure_installation(claim, addon)
        ready = is_ready(installation.conditions, installation.generation)
        why = find_condition(installation.conditions, READY)
        outputs: dict[str, str] = {}
        problem = ""
        if ready:
            try:
                outputs = await self._outputs(claim, addon, installation)
            except ChartError as error:
                problem = str(error)

        def bind(stored: addon_claim_pb2.AddonClaim) -> None:
            stored.status.installation = installation.name
            stored.status.outputs.values.clear()
            stored.status.outputs.values.update(outputs)
            if problem:
                mark_ready(stored, ready=False, reason="OutputsFailed", message=problem)
                return
            mark_ready(
                stored,
                ready=ready,
                reason="Bound" if ready else "Installing",
                message=f"{addon.name} in {claim.spec.cluster}"
                + ("" if ready or why is None else f": {why.reason}: {why.message}"),
            )

        before = claim.status.installation
        await self._claims.update_status(name, bind)
        if problem:
            await self._record(claim, WARNING, "OutputsFailed", problem)
        if before != installation.name:
            await self._record(claim, NORMAL, "Bound", f"bound to {installation.name} ({addon.name})")
            self.enqueue_installation(installation.name)
            if before:
                self.enqueue_installation(before)  # one user fewer there
        return None

    @staticmethod
    async def _outputs(
        claim: addon_claim_pb2.AddonClaim,
        addon: addon_pb2.Addon,
        installation: addon_installation_pb2.AddonInstallation,
    ) -> dict[str, str]:
        """The installation's outputs, with the addon's per-claim outputs rendered over them."""
        shared = dict(installation.status.outputs)
        values = {
            "outputs": shared,
            "params": json_format.MessageToDict(claim.spec.params),
            "owner": claim.spec.owner,
            "project": claim.spec.project,
            "environment": claim.spec.environment,
            "defaultHost": claim.spec.default_host,
        }
        own = await render_outputs(
            dict(addon.spec.claim_outputs),
            values,
            release=installation.name.rsplit("/", 1)[-1],
            namespace=addon.spec.namespace,
            what=f"the claim outputs of {addon.name}",
        )
        # An empty per-claim output is one that does not apply to this claim (no host asked for).
        return {**shared, **{name: value for name, value in own.items() if value}}

    async def _addon_for(self, claim: addon_claim_pb2.AddonClaim) -> addon_pb2.Addon | None:
        """The claim's addon: the one the profile chose, else the catalog's provider of the type."""
        if claim.spec.addon:
            addon = await self._addons.find(claim.spec.addon)
            if addon is None or addon.HasField("delete_time"):
                await self._pend(claim, "AddonNotFound", f"{claim.spec.addon} is not in the addon catalog")
                return None
            return addon
        catalog = await list_all(self._addons)
        chosen = choose_provider(catalog, claim.spec.type)
        if chosen is None:
            await self._pend(claim, "NoAddonForType", no_provider_message(catalog, claim.spec.type))
        return chosen

    async def _ensure_installation(
        self, claim: addon_claim_pb2.AddonClaim, addon: addon_pb2.Addon
    ) -> addon_installation_pb2.AddonInstallation:
        # Bound already, or an installation of the addon in the cluster (an operator's included),
        # or the managed one's name, which may still be taken by one being uninstalled.
        name = installation_name(addon.name, claim.spec.cluster)
        found = await self._installations.find(claim.status.installation) if claim.status.installation else None
        if found is not None and (found.spec.addon, found.spec.cluster) != (addon.name, claim.spec.cluster):
            found = None  # the claim moved (another cluster or addon): bind it anew below
        found = found or await installation_of(self._installations, addon.name, claim.spec.cluster)
        found = found or await self._installations.find(name)
        if found is None:
            wanted = addon_installation_pb2.AddonInstallation(
                spec=addon_installation_pb2.AddonInstallationSpec(
                    addon=addon.name, cluster=claim.spec.cluster, managed=True
                )
            )
            try:
                found = await self._installations.create(wanted, name=name)
            except AlreadyExists:
                found = await self._installations.get(name)
        if found.HasField("delete_time"):
            # Being uninstalled (its grace period passed): a new user gets a new one once the
            # old one is gone, which wakes this claim through the installation watch.
            raise TemporaryError(f"{found.name} is being uninstalled; installing again once it is gone")
        return found

    async def claims_of_installation(self, event: change_event_pb2.ChangeEvent) -> list[str]:
        """Keys for an installation change: the claims bound to it (their outputs and readiness)."""
        return sorted(c.name for c in await list_all(self._claims, f'status.installation = "{event.name}"'))

    async def _pend(self, claim: addon_claim_pb2.AddonClaim, reason: str, message: str) -> None:
        def mark(stored: addon_claim_pb2.AddonClaim) -> None:
            mark_ready(stored, ready=False, reason=reason, message=message)

        await self._claims.update_status(claim.name, mark)
        await self._record(claim, WARNING, reason, message)

    async def _record(
        self, claim: addon_claim_pb2.AddonClaim, kind: event_pb2.EventType.ValueType, reason: str, message: str
    ) -> None:
        await self._events.record(
            resource=claim.name,
            resource_uid=claim.uid,
            type=kind,
            reason=reason,
            message=message,
            generation=claim.generation,
        )
