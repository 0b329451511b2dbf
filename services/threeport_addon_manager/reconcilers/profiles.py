"""The AddonProfile that configures an addon's installations, read from the registry.

An installation is shared by every app in its cluster, so only **unscoped** profiles (no
project, environment or environment type) apply to it: they give its values, version and
uninstall grace period. Scoped profiles choose which addon a claim gets; that choice arrives as
the claim's ``spec.addon``. When several unscoped profiles name the addon, an operator's wins
over the system default, then the first by name. Without a registry backend no profile applies.
"""

from __future__ import annotations

from threeport.registry.v1alpha1 import addon_profile_pb2
from threeport.sdk import ApiError, AsyncClient
from threeport_runtime.reconcile.result import TemporaryError

AddonProfile = addon_profile_pb2.AddonProfile
PROFILE_RESOURCE = "threeport.registry.v1alpha1.AddonProfile"


class ProfileSource:
    def __init__(self, registry: AsyncClient | None):
        self._registry = registry

    async def for_addon(self, addon: str) -> AddonProfile | None:
        if self._registry is None:
            return None
        matching: list[AddonProfile] = []
        page_token = ""
        try:
            while True:
                page = await self._registry.addon_profile.list_addon_profiles_page(
                    page_size=1000, page_token=page_token, hide_deleting=True
                )
                matching += [p for p in page.addon_profiles if p.spec.addon == addon and _unscoped(p)]
                page_token = page.next_page_token
                if not page_token:
                    break
        except ApiError as error:
            # Installing with the wrong values would be worse than waiting for the registry.
            raise TemporaryError(f"cannot read the AddonProfiles of {addon} from the registry: {error}") from error
        matching.sort(key=lambda p: (p.status.system_default, p.name))
        return matching[0] if matching else None


def _unscoped(profile: AddonProfile) -> bool:
    scope = profile.spec.scope
    return not (scope.project or scope.environment or scope.environment_type)
