"""SDK clients for the services delivery depends on, authenticated with the service credential.

Each backend is optional at the call site: a dependency type whose provider is not configured,
or answers UNIMPLEMENTED or UNAVAILABLE, is reported as ``NoProvider`` rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from threeport.sdk import NO_RETRY, AsyncClient, RetryPolicy
from threeport_runtime.config import Settings
from threeport_workload_delivery.config import DeliveryConfig

SERVICE_NAME = "workload-delivery"


def _client(target: str, settings: Settings, retry: RetryPolicy | None = None) -> AsyncClient | None:
    if not target:
        return None
    metadata = (("authorization", f"Service {settings.service_credential}"), ("x-threeport-service", SERVICE_NAME))
    if retry is None:
        return AsyncClient(target, metadata=metadata)
    return AsyncClient(target, metadata=metadata, retry=retry)


@dataclass
class Backends:
    registry: AsyncClient | None
    clusters: AsyncClient | None
    addons: AsyncClient | None
    infra: AsyncClient | None

    @classmethod
    def connect(cls, config: DeliveryConfig, settings: Settings) -> Backends:
        return cls(
            registry=_client(config.registry, settings),
            clusters=_client(config.clusters, settings),
            # An absent provider must read as NoProvider at once, not after retries.
            addons=_client(config.addons, settings, NO_RETRY),
            infra=_client(config.infra, settings, NO_RETRY),
        )

    async def close(self) -> None:
        for client in (self.registry, self.clusters, self.addons, self.infra):
            if client is not None:
                await client.close()
