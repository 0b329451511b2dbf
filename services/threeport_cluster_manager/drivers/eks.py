"""The ``eks`` driver: clusters built by the infra-provider, requested through a ClusterInfra.

The cluster-manager never touches AWS: it creates a ``ClusterInfra`` (internal API of the
infra-provider, called with the service credential), waits for it to be Ready, and asks it
for a short-lived connection whenever it needs one. The node group and the zones come from the
cluster's ClusterProfile (read from the registry, ``domain.eks_sizing``). Deleting the cluster deletes the
ClusterInfra and waits until it is gone. Without ``THREEPORT_BACKEND_INFRA`` the provider is
unavailable (FAILED_PRECONDITION at create time; nothing is stored).
"""

from __future__ import annotations

from datetime import UTC

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport.infra.v1alpha1 import cluster_infra_pb2
from threeport.registry.v1alpha1 import cluster_profile_pb2
from threeport.sdk import ApiError, AsyncClient, NotFoundError, readiness
from threeport_cluster_manager.domain.eks_sizing import node_layout
from threeport_cluster_manager.drivers.base import DriverError, Provisioning, provider_name
from threeport_model.locations import aws_region
from threeport_runtime.kube.connection import Connection


class EksDriver:
    provider = "eks"

    def __init__(self, infra: AsyncClient | None, registry: AsyncClient | None = None):
        # Built by the runtime (credential, trace context, deadline); None when not configured.
        self._infra = infra
        # Where the cluster's ClusterProfile is read (its size and HA); None: default sizing.
        self._registry = registry

    def unavailable(self) -> str | None:
        if self._infra is None:
            return (
                "the eks provider needs the infra-provider service, which is not configured: "
                "set THREEPORT_BACKEND_INFRA to its address (host:port)"
            )
        return None

    def _client(self) -> AsyncClient:
        """The infra-provider's client; leaving ``async with`` does not close a channel the
        client did not open, so the runtime's channel is shared by every call."""
        if self._infra is None:
            raise DriverError(self.unavailable() or "the infra-provider is not configured")
        return self._infra

    @staticmethod
    def _infra_name(cluster: cluster_pb2.Cluster) -> str:
        return f"clusterInfras/{provider_name(cluster)}"

    async def _profile(self, cluster: cluster_pb2.Cluster) -> cluster_profile_pb2.ClusterProfileSpec | None:
        if not cluster.spec.profile or self._registry is None:
            return None
        try:
            async with self._registry as registry:
                found = await registry.cluster_profile.get_cluster_profile(name=cluster.spec.profile)
        except NotFoundError:
            raise DriverError(f"{cluster.spec.profile} does not exist; create it or name another profile") from None
        except ApiError as exc:
            raise DriverError(f"the registry failed to give {cluster.spec.profile}: {exc.message}") from None
        return found.spec

    async def create(self, cluster: cluster_pb2.Cluster) -> Provisioning:
        name = self._infra_name(cluster)
        node_group, high_availability = node_layout(await self._profile(cluster))
        try:
            async with self._client() as client:
                infras = client.internal.cluster_infra
                try:
                    infra = await infras.get_cluster_infra(name=name)
                except NotFoundError:
                    infra = await infras.create_cluster_infra(
                        cluster_infra_id=provider_name(cluster),
                        request_id=f"cluster:{cluster.uid}",
                        cluster_infra=cluster_infra_pb2.ClusterInfra(
                            spec=cluster_infra_pb2.ClusterInfraSpec(
                                cluster=cluster.name,
                                account=cluster.spec.account,
                                region=aws_region(cluster.spec.location) or "",
                                kubernetes_version=cluster.spec.kubernetes_version,
                                node_groups=[node_group],
                                high_availability=high_availability,
                            )
                        ),
                    )
        except ApiError as exc:
            raise DriverError(f"the infra-provider failed: {exc.message}") from None
        verdict = readiness.assess(infra)
        if verdict.failed:
            raise DriverError(f"the infra-provider could not build {name}: {verdict.message}")
        return Provisioning(ready=verdict.ready, message=verdict.message or "building", infrastructure=name)

    async def delete(self, cluster: cluster_pb2.Cluster) -> bool:
        name = self._infra_name(cluster)
        try:
            async with self._client() as client:
                infras = client.internal.cluster_infra
                await infras.delete_cluster_infra(name=name, allow_missing=True)
                try:
                    await infras.get_cluster_infra(name=name)
                except NotFoundError:
                    return True
        except ApiError as exc:
            raise DriverError(f"the infra-provider failed to delete {name}: {exc.message}") from None
        return False

    async def connect(self, cluster: cluster_pb2.Cluster) -> Connection | None:
        # Tokens are short-lived, so they are fetched on demand and never stored.
        try:
            async with self._client() as client:
                found = await client.internal.cluster_infra.get_cluster_infra_connection(name=self._infra_name(cluster))
        except NotFoundError:
            return None
        except ApiError as exc:
            raise DriverError(f"the infra-provider gave no connection: {exc.message}") from None
        expires = found.expire_time.ToDatetime(tzinfo=UTC) if found.HasField("expire_time") else None
        return Connection(
            server=found.server,
            certificate_authority_data=found.certificate_authority_data,
            token=found.token,
            expire_time=expires,
        )
