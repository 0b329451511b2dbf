"""What every AWS implementation shares: the account to act in, deterministic names (the
idempotency of every create: a retried create finds its resource by name) and tags."""

from __future__ import annotations

from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.cloud.aws import AwsAccess, AwsError
from threeport_infra_provider.domain.names import last_segment
from threeport_infra_provider.implementations.base import ImplementationError

MANAGED_BY_TAG = "threeport.io/managed-by"
SERVICE_TAG = "threeport.io/managed-service"


def resource_name(service: managed_service_pb2.ManagedService, limit: int = 63) -> str:
    """``tp-{id}-{uid prefix}``: unique per incarnation of the service, stable across retries."""
    suffix = service.uid.replace("-", "")[:8]
    stem = f"tp-{last_segment(service.name)}"[: limit - len(suffix) - 1].rstrip("-")
    return f"{stem}-{suffix}"


def tags(service: managed_service_pb2.ManagedService) -> dict[str, str]:
    return {MANAGED_BY_TAG: "threeport", SERVICE_TAG: service.name, "threeport.io/uid": service.uid}


def tag_list(service: managed_service_pb2.ManagedService) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags(service).items()]


class AwsBase:
    def __init__(self, directory: AccountDirectory):
        self._directory = directory

    async def access(self, service: managed_service_pb2.ManagedService) -> AwsAccess:
        account = await self._directory.resolve(service.spec.account)
        return await self._directory.access(account)

    @staticmethod
    def region(service: managed_service_pb2.ManagedService, access: AwsAccess) -> str:
        return service.spec.region or access.region


def failed(error: AwsError) -> ImplementationError:
    return ImplementationError(str(error))
