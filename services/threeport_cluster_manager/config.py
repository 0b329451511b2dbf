"""The cluster-manager's own settings, from ``THREEPORT_*`` environment variables.

The runtime's ``Settings`` cover what every service needs; these are the knobs of cluster
management. Each is validated at start, naming the variable on error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from threeport_runtime.config import ConfigError

PREFIX = "THREEPORT_"


@dataclass(frozen=True)
class ClusterManagerConfig:
    # Control API of the Kubernetes API emulator, for the `sim` provider; '' disables it.
    kubesim_url: str = ""
    # Address (host:port) of the infra-provider, for the `eks` provider; '' disables it.
    infra_backend: str = ""
    # Address (host:port) of the registry, where `eks` clusters' ClusterProfiles are read; ''
    # builds them with the default size.
    registry_backend: str = ""
    # How often each cluster is probed.
    probe_interval: float = 30.0
    # How long a probe that finds nothing new may leave the heartbeat (``last_probe_time``,
    # ``api_latency_ms``) as it is, and how often the onboarding objects are re-applied: as the
    # kubelet reports an unchanged node status only every few minutes, so an idle fleet does not
    # write every cluster's status every probe interval.
    status_refresh: float = 300.0
    # The deadline of each call a probe makes.
    probe_timeout: float = 5.0
    # How long an on-demand cluster may stay unused before it is deleted.
    gc_grace: float = 600.0
    # How often provisioning progress is checked.
    provision_poll: float = 2.0
    # The `kind` binary for the `kind` provider.
    kind_binary: str = "kind"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClusterManagerConfig:
        env = os.environ if environ is None else environ
        return cls(
            kubesim_url=env.get(PREFIX + "KUBESIM_URL", "").rstrip("/"),
            infra_backend=env.get(PREFIX + "BACKEND_INFRA", ""),
            registry_backend=env.get(PREFIX + "BACKEND_REGISTRY", ""),
            probe_interval=_seconds(env, "CLUSTER_PROBE_INTERVAL_SECONDS", cls.probe_interval),
            status_refresh=_seconds(env, "CLUSTER_STATUS_REFRESH_SECONDS", cls.status_refresh),
            probe_timeout=_seconds(env, "CLUSTER_PROBE_TIMEOUT_SECONDS", cls.probe_timeout),
            gc_grace=_seconds(env, "CLUSTER_GC_GRACE_SECONDS", cls.gc_grace, allow_zero=True),
            provision_poll=_seconds(env, "CLUSTER_PROVISION_POLL_SECONDS", cls.provision_poll),
            kind_binary=env.get(PREFIX + "KIND_BINARY", "") or cls.kind_binary,
        )


def _seconds(env: Mapping[str, str], name: str, default: float, *, allow_zero: bool = False) -> float:
    raw = env.get(PREFIX + name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a number of seconds, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{PREFIX}{name} must be {'non-negative' if allow_zero else 'positive'}, got {raw!r}")
    return value
