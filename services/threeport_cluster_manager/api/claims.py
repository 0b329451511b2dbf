"""ClusterClaimService (internal): consumers ask for a cluster; the claim reconciler places it.

Every method is a standard one, so the runtime's StandardMethods does them all; the claim
rules run on create through ``check_claim``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_claim_pb2_grpc
from threeport_runtime.rpc.standard_methods import StandardMethods


class ClusterClaimServicer(cluster_claim_pb2_grpc.ClusterClaimServiceServicer):
    def __init__(self, methods: StandardMethods[cluster_claim_pb2.ClusterClaim]):
        self._methods = methods

    async def CreateClusterClaim(self, request: Any, context: Any) -> cluster_claim_pb2.ClusterClaim:
        return await self._methods.create(request)

    async def GetClusterClaim(self, request: Any, context: Any) -> cluster_claim_pb2.ClusterClaim:
        return await self._methods.get(request)

    async def ListClusterClaims(self, request: Any, context: Any) -> Any:
        return await self._methods.list(request, cluster_claim_pb2.ListClusterClaimsResponse)

    async def DeleteClusterClaim(self, request: Any, context: Any) -> cluster_claim_pb2.ClusterClaim:
        return await self._methods.delete(request)

    async def WatchClusterClaims(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, cluster_claim_pb2.WatchClusterClaimsResponse):
            yield response
