"""The ``attached`` driver: a cluster someone else runs, reached with a stored kubeconfig.

Nothing is created or deleted; the connection is what AttachCluster stored (encrypted).
"""

from __future__ import annotations

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport_cluster_manager.drivers.base import Provisioning
from threeport_cluster_manager.store.credentials import CredentialStore
from threeport_runtime.kube.connection import Connection


class AttachedDriver:
    provider = "attached"

    def __init__(self, credentials: CredentialStore):
        self._credentials = credentials

    def unavailable(self) -> str | None:
        return None

    async def create(self, cluster: cluster_pb2.Cluster) -> Provisioning:
        return Provisioning(ready=True)

    async def delete(self, cluster: cluster_pb2.Cluster) -> bool:
        return True  # Detaching leaves the cluster itself alone.

    async def connect(self, cluster: cluster_pb2.Cluster) -> Connection | None:
        return await self._credentials.get(cluster.name, cluster.uid)
