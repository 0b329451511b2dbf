"""The addon-manager's own settings, from ``THREEPORT_*`` environment variables.

Each is validated at start, naming the variable on error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from threeport_runtime.config import ConfigError

PREFIX = "THREEPORT_"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True)
class AddonManagerConfig:
    # Address (host:port) of the cluster-manager, which hands out cluster credentials.
    clusters_backend: str = ""
    # Address of the registry, whose unscoped AddonProfiles configure installations; '' = none.
    registry_backend: str = ""
    # Address of the infra-provider, which issues AWS credentials of its accounts to addons
    # that need cloud access; '' = none (such addons use their own or the cluster's identity).
    infra_backend: str = ""
    # How long an unused managed installation stays installed (an AddonProfile may override it).
    uninstall_grace: float = 600.0
    # How often an installation that is not healthy yet is looked at again.
    health_poll: float = 2.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AddonManagerConfig:
        env = os.environ if environ is None else environ
        clusters = env.get(PREFIX + "BACKEND_CLUSTERS", "")
        if not clusters:
            raise ConfigError(f"{PREFIX}BACKEND_CLUSTERS must be set: the addon-manager reaches clusters through it")
        return cls(
            clusters_backend=clusters,
            registry_backend=env.get(PREFIX + "BACKEND_REGISTRY", ""),
            infra_backend=env.get(PREFIX + "BACKEND_INFRA", ""),
            uninstall_grace=parse_duration(env, "ADDONS_UNINSTALL_GRACE", cls.uninstall_grace),
            health_poll=parse_duration(env, "ADDONS_HEALTH_POLL", cls.health_poll, allow_zero=False),
        )


def parse_duration(env: Mapping[str, str], name: str, default: float, *, allow_zero: bool = True) -> float:
    """``10m``, ``90s``, ``1.5h``, ``250ms`` or plain seconds."""
    raw = env.get(PREFIX + name, "").strip()
    if raw == "":
        return default
    match = _DURATION.fullmatch(raw)
    if match is None:
        raise ConfigError(f"{PREFIX}{name} must be a duration such as 10m, 90s or 1h, got {raw!r}")
    value = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if value == 0 and not allow_zero:
        raise ConfigError(f"{PREFIX}{name} must be positive, got {raw!r}")
    return value
