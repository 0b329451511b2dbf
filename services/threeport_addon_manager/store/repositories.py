"""The resource repositories of the service, with the spec/status fields filters may use."""

from __future__ import annotations

from threeport.addons.v1alpha1 import addon_claim_pb2, addon_installation_pb2, addon_pb2
from threeport_addon_manager.store.tables import AddonClaimRow, AddonInstallationRow, AddonRow
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.runtime import ServiceRuntime

Addons = ResourceRepository[addon_pb2.Addon, AddonRow]
Claims = ResourceRepository[addon_claim_pb2.AddonClaim, AddonClaimRow]
Installations = ResourceRepository[addon_installation_pb2.AddonInstallation, AddonInstallationRow]

ADDON_FILTER_FIELDS = {"spec.category": "spec.category", "spec.installer": "spec.installer"}
CLAIM_FILTER_FIELDS = {
    "spec.owner": "spec.owner",
    "spec.type": "spec.type",
    "spec.cluster": "spec.cluster",
    "spec.addon": "spec.addon",
    "status.installation": "status.installation",
}
INSTALLATION_FILTER_FIELDS = {"spec.addon": "spec.addon", "spec.cluster": "spec.cluster"}


def addons_of(runtime: ServiceRuntime) -> Addons:
    return runtime.repository(AddonRow, addon_pb2.Addon, filter_fields=ADDON_FILTER_FIELDS)


def claims_of(runtime: ServiceRuntime) -> Claims:
    # Addon outputs are templated from catalog values, which are not secret: no encryption here.
    return runtime.repository(
        AddonClaimRow, addon_claim_pb2.AddonClaim, filter_fields=CLAIM_FILTER_FIELDS, owner_field="spec.owner"
    )


def installations_of(runtime: ServiceRuntime) -> Installations:
    return runtime.repository(
        AddonInstallationRow, addon_installation_pb2.AddonInstallation, filter_fields=INSTALLATION_FILTER_FIELDS
    )
