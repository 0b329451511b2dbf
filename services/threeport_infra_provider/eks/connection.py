"""The connection handed to the cluster-manager for a Ready ClusterInfra: where the API server
is (the EKS endpoint, or the account's cluster API gateway for private endpoints), its CA, and a
fresh EKS token. Tokens are made on each call and never stored."""

from __future__ import annotations

from threeport.infra.v1alpha1 import account_pb2, cluster_infra_pb2
from threeport_infra_provider.cloud.aws import AwsAccess
from threeport_infra_provider.eks.token import presigned_token
from threeport_runtime.errors import FailedPrecondition


async def connection_of(
    infra: cluster_infra_pb2.ClusterInfra, account: account_pb2.Account, access: AwsAccess
) -> cluster_infra_pb2.ClusterInfraConnection:
    if not infra.status.endpoint or not infra.status.eks_cluster_name:
        raise FailedPrecondition(f"{infra.name} is not built yet: wait for it to be Ready", reason="CLUSTER_NOT_READY")
    cluster = infra.status.eks_cluster_name
    region = infra.spec.region or access.region
    token, expires = await access.call(
        f"presigning the EKS token of {cluster}", lambda: presigned_token(access, region, cluster)
    )
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
