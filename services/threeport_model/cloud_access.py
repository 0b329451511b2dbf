"""Purposes for which the platform issues cloud credentials to the software it installs in
clusters (the addon-manager asks, the infra-provider issues): the names both services use."""

from __future__ import annotations

from types import MappingProxyType

PURPOSES = MappingProxyType({
    "dns": "Route53 records, for external-dns",
    "secrets": "reading Secrets Manager, for external-secrets",
})


def check_purpose(purpose: str) -> str | None:
    """None for a known purpose, else what is allowed."""
    if purpose in PURPOSES:
        return None
    choices = "; ".join(f"{name} ({description})" for name, description in sorted(PURPOSES.items()))
    return f"{purpose!r} is not a purpose: use one of {choices}"
