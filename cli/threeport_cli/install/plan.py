"""What ``tptctl install`` applies, in which order, from the rendered chart.

Migrations first, as on every upgrade: configuration, Secrets, Services and bundled datastores;
then the migration Jobs (Helm hooks) once the datastores are ready; then the services'
Deployments. Secrets the chart marks ``helm.sh/resource-policy: keep`` (encryption keys, the
service credential, the first administrator's token, the bundled database password) are
generated once: on later installs their current values are fed back as chart values, as Helm's
``lookup`` would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from threeport_runtime.helm import RenderedObject

KEEP = "helm.sh/resource-policy"
# Keys of the kept Secrets -> the chart values that set them.
KEPT_VALUES = {
    "service-credential": "serviceCredential",
    "encryption-keys": "encryptionKeys",
    "postgres-password": "postgresPassword",
    "bootstrap-token": "bootstrapToken",
}
WORKLOADS = ("Deployment",)
DATASTORES = ("StatefulSet",)


@dataclass
class Plan:
    first: list[RenderedObject] = field(default_factory=list)
    datastores: list[RenderedObject] = field(default_factory=list)
    migrations: list[RenderedObject] = field(default_factory=list)
    workloads: list[RenderedObject] = field(default_factory=list)

    @classmethod
    def of(cls, objects: Iterable[RenderedObject]) -> Plan:
        plan = cls()
        for item in objects:
            if item.hooks:
                plan.migrations.append(item)
            elif item.kind in WORKLOADS:
                plan.workloads.append(item)
            elif item.kind in DATASTORES:
                plan.datastores.append(item)
            else:
                plan.first.append(item)
        plan.migrations.sort(key=lambda item: item.hook_weight)
        return plan

    def everything(self) -> list[RenderedObject]:
        return [*self.first, *self.datastores, *self.migrations, *self.workloads]


def kept_secrets(objects: Iterable[RenderedObject]) -> list[str]:
    """Names of the Secrets generated once and kept (also on uninstall)."""
    return [item.name for item in objects if item.kind == "Secret" and _annotation(item.body, KEEP) == "keep"]


def kept_values(existing: dict[str, str]) -> dict[str, Any]:
    """Chart values that reproduce a kept Secret's current content."""
    return {KEPT_VALUES[key]: value for key, value in existing.items() if key in KEPT_VALUES}


def _annotation(body: dict[str, Any], key: str) -> str:
    return str((body.get("metadata", {}).get("annotations") or {}).get(key, ""))
