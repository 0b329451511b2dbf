"""The infra-provider's own settings, from ``THREEPORT_*`` environment variables.

| variable | meaning |
|---|---|
| ``THREEPORT_BACKEND_CLUSTERS`` | host:port of the cluster-manager; ``local`` services need it |
| ``THREEPORT_INFRA_AWS_TIMEOUT_SECONDS`` | connect and read timeout of every AWS call (default 10) |
| ``THREEPORT_INFRA_POLL_SECONDS`` | how often a service that is being built is looked at again (default 5) |
| ``THREEPORT_INFRA_DRIFT_CHECK_SECONDS`` | how often a Ready service is compared with what exists (300) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from threeport_runtime.config import positive_seconds

PREFIX = "THREEPORT_"


@dataclass(frozen=True)
class InfraConfig:
    clusters_backend: str = ""
    aws_timeout: float = 10.0
    poll: float = 5.0
    drift_check: float = 300.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> InfraConfig:
        env = os.environ if environ is None else environ
        return cls(
            clusters_backend=env.get(PREFIX + "BACKEND_CLUSTERS", ""),
            aws_timeout=positive_seconds(env, "INFRA_AWS_TIMEOUT_SECONDS", cls.aws_timeout),
            poll=positive_seconds(env, "INFRA_POLL_SECONDS", cls.poll),
            drift_check=positive_seconds(env, "INFRA_DRIFT_CHECK_SECONDS", cls.drift_check),
        )
