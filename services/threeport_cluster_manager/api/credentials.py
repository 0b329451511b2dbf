"""ClusterCredentialsService (internal; the ``policy`` option admits service callers only).

It hands another service a connection to a cluster. Only this RPC ever returns credentials.
"""

from __future__ import annotations

from typing import Any

from threeport.clusters.v1alpha1 import cluster_credentials_pb2, cluster_credentials_pb2_grpc
from threeport_cluster_manager.drivers.base import DriverError
from threeport_cluster_manager.drivers.registry import Drivers
from threeport_cluster_manager.store.repositories import Clusters
from threeport_runtime.errors import FailedPrecondition, Unavailable


class ClusterCredentialsServicer(cluster_credentials_pb2_grpc.ClusterCredentialsServiceServicer):
    def __init__(self, clusters: Clusters, drivers: Drivers):
        self._clusters = clusters
        self._drivers = drivers

    async def GetClusterCredentials(
        self, request: cluster_credentials_pb2.GetClusterCredentialsRequest, context: Any
    ) -> cluster_credentials_pb2.ClusterCredentials:
        cluster = await self._clusters.get(request.name)
        try:
            connection = await self._drivers.get(cluster.spec.provider).connect(cluster)
        except DriverError as exc:
            raise Unavailable(f"no connection to {cluster.name} right now: {exc}") from None
        if connection is None:
            raise FailedPrecondition(
                f"cluster {cluster.name!r} has no connection yet (state {cluster.state}); wait until it is Ready"
            )
        return connection.to_credentials(cluster.name)
