"""ClusterClaimService (internal): consumers ask for a cluster; the claim reconciler places it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_claim_pb2_grpc
from threeport_cluster_manager.api.validation import check_claim, check_id
from threeport_cluster_manager.domain.names import claim_name
from threeport_cluster_manager.store.repositories import Claims
from threeport_runtime.rpc.watch import watch_resources


class ClusterClaimServicer(cluster_claim_pb2_grpc.ClusterClaimServiceServicer):
    def __init__(self, claims: Claims, redis: Redis, heartbeat_interval: float = 5.0):
        self._claims = claims
        self._redis = redis
        self._heartbeat_interval = heartbeat_interval

    async def CreateClusterClaim(
        self, request: cluster_claim_pb2.CreateClusterClaimRequest, context: Any
    ) -> cluster_claim_pb2.ClusterClaim:
        check_id("cluster_claim_id", request.cluster_claim_id)
        return await self._claims.create(
            request.cluster_claim,
            name=claim_name(request.cluster_claim_id),
            request_id=request.request_id,
            validate_only=request.validate_only,
            validate=check_claim,
        )

    async def GetClusterClaim(
        self, request: cluster_claim_pb2.GetClusterClaimRequest, context: Any
    ) -> cluster_claim_pb2.ClusterClaim:
        return await self._claims.get(request.name)

    async def ListClusterClaims(
        self, request: cluster_claim_pb2.ListClusterClaimsRequest, context: Any
    ) -> cluster_claim_pb2.ListClusterClaimsResponse:
        claims, next_page_token = await self._claims.list(
            page_size=request.page_size,
            page_token=request.page_token,
            filter_text=request.filter,
            hide_deleting=request.hide_deleting,
        )
        return cluster_claim_pb2.ListClusterClaimsResponse(cluster_claims=claims, next_page_token=next_page_token)

    async def DeleteClusterClaim(
        self, request: cluster_claim_pb2.DeleteClusterClaimRequest, context: Any
    ) -> cluster_claim_pb2.ClusterClaim:
        return await self._claims.delete(
            request.name, etag=request.etag, allow_missing=request.allow_missing, validate_only=request.validate_only
        )

    async def WatchClusterClaims(
        self, request: cluster_claim_pb2.WatchClusterClaimsRequest, context: Any
    ) -> AsyncIterator[cluster_claim_pb2.WatchClusterClaimsResponse]:
        async for response in watch_resources(
            self._claims,
            self._redis,
            lambda kind, claim: cluster_claim_pb2.WatchClusterClaimsResponse(type=kind, cluster_claim=claim),
            filter_text=request.filter,
            heartbeat_interval=self._heartbeat_interval,
        ):
            yield response
