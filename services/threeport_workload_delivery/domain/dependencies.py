"""Who provides each dependency type, and which outputs are secret.

A small copy of the catalogue in the registry's ``threeport_registry.domain.dependency_types``;
the two must agree. Secret outputs reach containers only through a Kubernetes Secret.
"""

from __future__ import annotations

from typing import Literal

Provider = Literal["infra", "addons", "application"]

MANAGED_TYPES = frozenset({"postgres", "mysql", "redis", "bucket", "secret"})
ADDON_TYPES = frozenset({"ingress", "dns", "metrics", "logging", "tls", "secrets"})
SECRET_OUTPUTS: dict[str, frozenset[str]] = {
    "postgres": frozenset({"password", "url"}),
    "mysql": frozenset({"password", "url"}),
    "redis": frozenset({"password", "url"}),
}


def provider_of(dependency_type: str) -> Provider:
    if dependency_type == "application":
        return "application"
    if dependency_type in ADDON_TYPES:
        return "addons"
    return "infra"


def is_secret(dependency_type: str, output: str) -> bool:
    """Every output of a ``secret`` dependency is secret; for others, the catalogue says."""
    if dependency_type == "secret":
        return True
    return output in SECRET_OUTPUTS.get(dependency_type, frozenset())
