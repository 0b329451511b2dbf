"""ClusterService: the standard methods over the cluster repository, plus AttachCluster.

AttachCluster checks the kubeconfig, connectivity, credentials and version before anything
is stored; then the cluster row and its encrypted credentials are written. Delete refuses while
claims are bound, naming them, unless ``force``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from threeport.clusters.v1alpha1 import cluster_pb2, cluster_pb2_grpc
from threeport_cluster_manager.api.validation import (
    check_cluster,
    check_id,
    check_new_cluster,
    label_violations,
    location_violations,
)
from threeport_cluster_manager.api.visibility import ClaimVisibility
from threeport_cluster_manager.domain.kubeconfig import KubeconfigError, parse_kubeconfig
from threeport_cluster_manager.domain.names import cluster_name
from threeport_cluster_manager.domain.versions import version_problem
from threeport_cluster_manager.drivers.registry import Drivers
from threeport_cluster_manager.probe import probe
from threeport_cluster_manager.store.credentials import CredentialStore
from threeport_cluster_manager.store.repositories import Claims, Clusters
from threeport_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.connection import Connection
from threeport_runtime.kube.errors import Forbidden, KubeError, TLSFailure
from threeport_runtime.rpc.standard_methods import StandardMethods

MAX_NAMED_CLAIMS = 10


class ClusterServicer(cluster_pb2_grpc.ClusterServiceServicer):
    def __init__(
        self,
        clusters: Clusters,
        claims: Claims,
        credentials: CredentialStore,
        drivers: Drivers,
        redis: Redis,
        *,
        probe_timeout: float,
        heartbeat_interval: float = 5.0,
    ):
        self._clusters = clusters
        self._standard = StandardMethods(clusters, redis, heartbeat_interval=heartbeat_interval)
        self._claims = claims
        self._visibility = ClaimVisibility(claims)
        self._credentials = credentials
        self._drivers = drivers
        self._probe_timeout = probe_timeout

    async def CreateCluster(self, request: cluster_pb2.CreateClusterRequest, context: Any) -> cluster_pb2.Cluster:
        check_id("cluster_id", request.cluster_id)
        check_new_cluster(request.cluster)
        problem = self._drivers.unavailable(request.cluster.spec.provider)
        if problem is not None:
            raise FailedPrecondition(problem, metadata={"provider": request.cluster.spec.provider})
        return await self._clusters.create(
            request.cluster,
            name=cluster_name(request.cluster_id),
            request_id=request.request_id,
            validate_only=request.validate_only,
        )

    async def GetCluster(self, request: cluster_pb2.GetClusterRequest, context: Any) -> cluster_pb2.Cluster:
        return await self._visibility.redact(await self._standard.get(request))

    async def ListClusters(
        self, request: cluster_pb2.ListClustersRequest, context: Any
    ) -> cluster_pb2.ListClustersResponse:
        response: cluster_pb2.ListClustersResponse = await self._standard.list(
            request, cluster_pb2.ListClustersResponse
        )
        for cluster in response.clusters:
            await self._visibility.redact(cluster)
        return response

    async def UpdateCluster(self, request: cluster_pb2.UpdateClusterRequest, context: Any) -> cluster_pb2.Cluster:
        current = await self._clusters.find(request.cluster.name)
        if current is None and request.allow_missing:
            # Create-through-update (apply) follows the rules of CreateCluster.
            check_id("cluster.name", request.cluster.name.removeprefix("clusters/"))
            check_new_cluster(request.cluster)
            problem = self._drivers.unavailable(request.cluster.spec.provider)
            if problem is not None:
                raise FailedPrecondition(problem, metadata={"provider": request.cluster.spec.provider})
        paths = list(request.update_mask.paths)

        def validate(updated: cluster_pb2.Cluster) -> None:
            check_cluster(updated)
            if current is not None and updated.spec.provider != current.spec.provider:
                raise InvalidArgument.for_fields(
                    [FieldViolation("cluster.spec.provider", "cannot change; delete and recreate the cluster")]
                )

        return await self._clusters.update(
            request.cluster,
            paths,
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
            validate=validate,
        )

    async def DeleteCluster(self, request: cluster_pb2.DeleteClusterRequest, context: Any) -> cluster_pb2.Cluster:
        if not request.force:
            bound = await self.bound_claims(request.name)
            if bound:
                shown = ", ".join(bound[:MAX_NAMED_CLAIMS]) + (" ..." if len(bound) > MAX_NAMED_CLAIMS else "")
                raise FailedPrecondition(
                    f"cluster {request.name!r} is used by {len(bound)} claim(s): {shown}; "
                    "delete those first or pass force",
                    reason="RESOURCE_IN_USE",
                    metadata={"resource": request.name},
                )
        return await self._clusters.delete(
            request.name,
            etag=request.etag,
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
        )

    async def bound_claims(self, cluster: str) -> list[str]:
        names: list[str] = []
        page_token = ""
        while True:
            claims, page_token = await self._claims.list(
                filter_text=f'status.cluster = "{cluster}"', hide_deleting=True, page_token=page_token, page_size=1000
            )
            names += [claim.name for claim in claims]
            if not page_token:
                return names

    async def WatchClusters(
        self, request: cluster_pb2.WatchClustersRequest, context: Any
    ) -> AsyncIterator[cluster_pb2.WatchClustersResponse]:
        async for response in self._standard.watch(request, cluster_pb2.WatchClustersResponse):
            if response.HasField("cluster"):
                await self._visibility.redact(response.cluster)
            yield response

    async def AttachCluster(self, request: cluster_pb2.AttachClusterRequest, context: Any) -> cluster_pb2.Cluster:
        check_id("cluster_id", request.cluster_id)
        violations = location_violations("location", request.location) + label_violations(
            "labels", dict(request.labels)
        )
        if not request.kubeconfig.strip():
            violations.append(FieldViolation("kubeconfig", "give the kubeconfig file's content"))
        if violations:
            raise InvalidArgument.for_fields(violations)
        name = cluster_name(request.cluster_id)
        try:
            connection = parse_kubeconfig(request.kubeconfig, request.context)
        except KubeconfigError as exc:
            raise InvalidArgument.for_fields([FieldViolation("kubeconfig", str(exc))]) from None
        version = await self._check_reachable(connection)
        cluster = cluster_pb2.Cluster(
            labels=dict(request.labels),
            spec=cluster_pb2.ClusterSpec(provider="attached", location=request.location, kubernetes_version=version),
        )
        created = await self._clusters.create(
            cluster, name=name, request_id=request.request_id, validate_only=request.validate_only
        )
        if request.validate_only:
            return created
        try:
            await self._credentials.put(created.name, created.uid, connection)
        except Exception:
            # Without its credentials the cluster is useless: undo rather than keep half of it.
            await self._clusters.delete(created.name, allow_missing=True)
            raise
        return created

    async def _check_reachable(self, connection: Connection) -> str:
        """The cluster's version, after proving the credentials work; nothing is written."""
        client: KubeClient | None = None
        try:
            client = KubeClient(connection, call_timeout=self._probe_timeout)
            result = await probe(client)
        except KubeError as failure:
            if isinstance(failure, Forbidden | TLSFailure):
                raise InvalidArgument.for_fields(
                    [FieldViolation("kubeconfig", f"{failure.message}; check the kubeconfig's credentials")]
                ) from None
            raise FailedPrecondition(
                f"the cluster cannot be attached: {failure.message}; check that the server URL is reachable "
                "from the control plane"
            ) from None
        finally:
            if client is not None:
                await client.close()
        problem = version_problem(result.kubernetes_version)
        if problem is not None:
            raise FailedPrecondition(f"the cluster cannot be attached: {problem}")
        return result.kubernetes_version
