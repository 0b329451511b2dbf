"""PlanAddonClaim: what a claim would pull into its cluster, changing nothing (``tptctl plan``).

The addon is chosen as the claim reconciler would (``domain.catalog.choose_provider``), then its
``requires`` are followed; each addon is shown with its installation in the cluster, if any.
A claim whose cluster is not chosen yet (empty) gets the same chain with no installations.
"""

from __future__ import annotations

from typing import Any

from threeport.addons.v1alpha1 import addon_claim_pb2
from threeport.common.v1alpha1 import state_pb2
from threeport_addon_manager.domain.catalog import choose_provider, no_provider_message
from threeport_addon_manager.reconcilers.lookup import installation_of, list_all
from threeport_addon_manager.store.repositories import Addons, Installations
from threeport_model import names
from threeport_runtime.errors import FieldViolation, InvalidArgument


class ClaimPlanner:
    def __init__(self, addons: Addons, installations: Installations):
        self._addons = addons
        self._installations = installations

    async def plan(self, request: Any) -> addon_claim_pb2.PlanAddonClaimResponse:
        spec = request.spec
        violations = []
        if not names.is_dns_label(spec.type):
            violations.append(FieldViolation("spec.type", "the dependency type, a lowercase word such as ingress"))
        if spec.cluster and (error := names.check_resource_name(spec.cluster, "clusters")):
            violations.append(FieldViolation("spec.cluster", error))
        if violations:
            raise InvalidArgument.for_fields(violations)
        response = addon_claim_pb2.PlanAddonClaimResponse()
        if spec.addon:
            first = spec.addon
        else:
            catalog = await list_all(self._addons)
            chosen = choose_provider(catalog, spec.type)
            if chosen is None:
                response.problem = no_provider_message(catalog, spec.type)
                return response
            first = chosen.name
        queue, seen = [first], set()
        while queue:
            name = queue.pop(0)
            if name in seen:
                continue
            seen.add(name)
            addon = await self._addons.find(name)
            if addon is None:
                response.problem = f"{name} is not in the addon catalog"
                continue
            installed = await installation_of(self._installations, name, spec.cluster) if spec.cluster else None
            response.addons.add(
                addon=name,
                installation=installed.name if installed is not None else "",
                state=installed.state if installed is not None else state_pb2.STATE_PENDING,
            )
            queue.extend(addon.spec.requires)
        return response
