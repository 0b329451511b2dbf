"""The connection handed to the cluster-manager for a Ready ClusterInfra: where the API server
is (the EKS endpoint, or the account's cluster API gateway for private endpoints), its CA, and an
EKS token. A token is reused (in memory only, never stored) while it has more than
``REUSE_MARGIN`` left, as kubectl's exec plugin reuses one, so that the cluster-manager's probes
keep one client per cluster instead of a new one every time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from threeport.infra.v1alpha1 import account_pb2, cluster_infra_pb2
from threeport_infra_provider.cloud.aws import AwsAccess
from threeport_infra_provider.eks.token import presigned_token
from threeport_runtime.errors import FailedPrecondition

REUSE_MARGIN = timedelta(minutes=5)
_TOKENS: dict[tuple[AwsAccess, str, str], tuple[str, datetime]] = {}


async def connection_of(
    infra: cluster_infra_pb2.ClusterInfra, account: account_pb2.Account, access: AwsAccess
) -> cluster_infra_pb2.ClusterInfraConnection:
    if not infra.status.endpoint or not infra.status.eks_cluster_name:
        raise FailedPrecondition(f"{infra.name} is not built yet: wait for it to be Ready", reason="CLUSTER_NOT_READY")
    cluster = infra.status.eks_cluster_name
    region = infra.spec.region or access.region
    key = (access, region, cluster)
    cached = _TOKENS.get(key)
    if cached is not None and cached[1] - datetime.now(UTC) > REUSE_MARGIN:
        token, expires = cached
    else:
        token, expires = await access.call(
            f"presigning the EKS token of {cluster}", lambda: presigned_token(access, region, cluster)
        )
        now = datetime.now(UTC)
        for stale in [k for k, (_, until) in _TOKENS.items() if until - now <= REUSE_MARGIN]:
            del _TOKENS[stale]
        _TOKENS[key] = (token, expires)
    gateway = account.spec.cluster_api_gateway
    found = cluster_infra_pb2.ClusterInfraConnection(
        server=gateway.url.replace("{cluster}", cluster) if gateway.url else infra.status.endpoint.rstrip("/"),
        certificate_authority_data=(
            gateway.certificate_authority_data if gateway.url else infra.status.certificate_authority_data
        ),
        token=token,
    )
    found.expire_time.FromDatetime(expires)
    return found
