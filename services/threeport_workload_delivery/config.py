"""workload-delivery's own settings, from ``THREEPORT_*`` environment variables.

| variable | meaning |
|---|---|
| ``THREEPORT_BACKEND_REGISTRY`` | host:port of the registry (required to deliver anything) |
| ``THREEPORT_BACKEND_CLUSTERS`` | host:port of the cluster-manager (required) |
| ``THREEPORT_BACKEND_ADDONS`` | host:port of the addon-manager; unset: addon dependencies stay ``NoProvider`` |
| ``THREEPORT_BACKEND_INFRA`` | host:port of the infra-provider; unset: managed services stay ``NoProvider`` |
| ``THREEPORT_DELIVERY_POLL_SECONDS`` | how often a rollout in progress is looked at (default 0.5) |
| ``THREEPORT_DELIVERY_DRIFT_SECONDS`` | how often a converged deployment is compared with its cluster (default 30) |
| ``THREEPORT_DELIVERY_CACHE_ENTRIES`` | most entries per cache of ``remote_reads`` (default 12000) |

Both apply only while the cluster's watch-fed cache is not synced; with it, changes arrive as
events (``pipeline.observed``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from threeport_runtime.config import ConfigError

PREFIX = "THREEPORT_"


@dataclass(frozen=True)
class DeliveryConfig:
    registry: str = ""
    clusters: str = ""
    addons: str = ""
    infra: str = ""
    poll_interval: float = 0.5
    drift_interval: float = 30.0
    cache_entries: int = 12_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DeliveryConfig:
        env = os.environ if environ is None else environ
        return cls(
            registry=env.get(PREFIX + "BACKEND_REGISTRY", ""),
            clusters=env.get(PREFIX + "BACKEND_CLUSTERS", ""),
            addons=env.get(PREFIX + "BACKEND_ADDONS", ""),
            infra=env.get(PREFIX + "BACKEND_INFRA", ""),
            poll_interval=_seconds(env, "DELIVERY_POLL_SECONDS", cls.poll_interval),
            drift_interval=_seconds(env, "DELIVERY_DRIFT_SECONDS", cls.drift_interval),
            cache_entries=_count(env, "DELIVERY_CACHE_ENTRIES", cls.cache_entries),
        )


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(PREFIX + name, "")
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{PREFIX}{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(PREFIX + name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{PREFIX}{name} must be positive, got {raw!r}")
    return value
