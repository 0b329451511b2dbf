"""SDK clients for the services delivery depends on, built by the runtime so that every call
carries the service credential, the trace context and a default deadline.

Each backend is optional at the call site: a dependency type whose provider is not configured,
or answers UNIMPLEMENTED or UNAVAILABLE, is reported as ``NoProvider`` rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from threeport.sdk import NO_RETRY, AsyncClient
from threeport_runtime.kube.connection import Connection
from threeport_runtime.runtime import ServiceRuntime
from threeport_workload_delivery.config import DeliveryConfig


@dataclass
class Backends:
    registry: AsyncClient
    clusters: AsyncClient
    addons: AsyncClient | None
    infra: AsyncClient | None

    @classmethod
    def connect(cls, config: DeliveryConfig, runtime: ServiceRuntime) -> Backends:
        """Clients for the configured backends (the runtime closes them with the service)."""
        return cls(
            registry=runtime.service_client(config.registry),
            clusters=runtime.service_client(config.clusters),
            # An absent provider must read as NoProvider at once, not after retries.
            addons=runtime.service_client(config.addons, retry=NO_RETRY) if config.addons else None,
            infra=runtime.service_client(config.infra, retry=NO_RETRY) if config.infra else None,
        )

    async def cluster_connection(self, cluster: str) -> Connection:
        """How to reach ``cluster`` now, as the cluster-manager hands it out (the kube pool's source)."""
        credentials = await self.clusters.internal.cluster_credentials.get_cluster_credentials(name=cluster)
        return Connection.from_credentials(credentials)
