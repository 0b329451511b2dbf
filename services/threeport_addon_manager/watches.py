"""What wakes the addon-manager's controllers (``For`` / ``Watches``).

- ``addons.addon`` accepts catalog entries and counts their installations (it follows them).
- ``addons.claim`` reconciles AddonClaims and watches installations: an installation's readiness
  and outputs are its claims' (``ClaimReconciler.claims_of_installation``).
- ``addons.installation`` reconciles AddonInstallations and watches the catalog: a changed Addon
  (new version, new defaults) rolls every installation of it (``installations_of_addon``), and
  follows the registry's AddonProfiles, which give installations values, version and grace.
"""

from __future__ import annotations

from threeport.common.v1alpha1 import change_event_pb2
from threeport_addon_manager.reconcilers.addon import AddonReconciler
from threeport_addon_manager.reconcilers.claim import ClaimReconciler
from threeport_addon_manager.reconcilers.installation import InstallationReconciler
from threeport_addon_manager.reconcilers.profiles import PROFILE_RESOURCE
from threeport_addon_manager.store.repositories import Addons, Claims, Installations
from threeport_runtime.bus.streams import resource_stream
from threeport_runtime.reconcile.controller import Watch
from threeport_runtime.reconcile.spec import ControllerSpec, For

# Created and deleted installations change a count; their status changes do not.
LIFECYCLE = frozenset({change_event_pb2.CHANGE_TYPE_CREATED, change_event_pb2.CHANGE_TYPE_DELETED})


def claim_controller(claims: Claims, installations: Installations, reconciler: ClaimReconciler) -> ControllerSpec:
    return ControllerSpec(
        "addons.claim",
        for_=For.resource(claims),
        watches=[Watch(installations.stream, keys=reconciler.claims_of_installation)],
    )


def installation_controller(
    installations: Installations, addons: Addons, reconciler: InstallationReconciler, prefix: str
) -> ControllerSpec:
    return ControllerSpec(
        "addons.installation",
        for_=For.resource(installations),
        watches=[
            Watch(addons.stream, keys=reconciler.installations_of_addon),
            Watch(resource_stream(prefix, PROFILE_RESOURCE), keys=reconciler.every_installation),
        ],
    )


def addon_controller(addons: Addons, installations: Installations, reconciler: AddonReconciler) -> ControllerSpec:
    return ControllerSpec(
        "addons.addon",
        for_=For.resource(addons),
        watches=[Watch(installations.stream, keys=reconciler.addon_of_installation, changes=LIFECYCLE)],
    )
