"""The implementations this process offers, by name (``local``, ``aws-*``)."""

from __future__ import annotations

from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.implementations.aws_elasticache import ElastiCacheImplementation
from threeport_infra_provider.implementations.aws_rds import RdsImplementation
from threeport_infra_provider.implementations.aws_s3 import S3Implementation
from threeport_infra_provider.implementations.aws_secretsmanager import SecretsManagerImplementation
from threeport_infra_provider.implementations.base import Implementation
from threeport_infra_provider.implementations.local import LocalImplementation
from threeport_infra_provider.store.repositories import ClusterInfras
from threeport_runtime.kube.pool import KubePool


def unavailable_reason(name: str) -> str:
    """Why an implementation this process knows is not offered (only ``local`` can be missing)."""
    if name == "local":
        return (
            "the local implementation runs services in the consumer's cluster and needs the "
            "cluster-manager: set THREEPORT_BACKEND_CLUSTERS on the infra-provider"
        )
    return f"no implementation {name!r}"


def implementations(
    pool: KubePool | None, directory: AccountDirectory, infras: ClusterInfras | None = None
) -> dict[str, Implementation]:
    found: dict[str, Implementation] = {
        "aws-rds": RdsImplementation(directory),
        "aws-elasticache": ElastiCacheImplementation(directory),
        "aws-s3": S3Implementation(directory, infras),
        "aws-secretsmanager": SecretsManagerImplementation(directory),
    }
    if pool is not None:
        found["local"] = LocalImplementation(pool)
    return found
