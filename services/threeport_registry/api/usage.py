"""Who still uses an application: other applications that depend on it (the registry's own
data) and deployments of it (asked of workload-delivery over its API with the service
credential; the registry never reads delivery's schema).

Deleting an application in use is FAILED_PRECONDITION naming the users, unless ``force``
(protos/README.md: "Deleting something others use is FAILED_PRECONDITION naming them").
"""

from __future__ import annotations

import os
from typing import Any

from threeport.sdk import ApiError, AsyncClient
from threeport_runtime.config import Settings
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.errors import FailedPrecondition, Unavailable

SERVICE_NAME = "registry"
DELIVERY_ADDRESS_VARIABLE = "THREEPORT_BACKEND_DELIVERY"


def delivery_client(settings: Settings) -> AsyncClient | None:
    """workload-delivery's API, if ``THREEPORT_BACKEND_DELIVERY`` says where it listens."""
    target = os.environ.get(DELIVERY_ADDRESS_VARIABLE, "")
    if not target:
        return None
    metadata = (("authorization", f"Service {settings.service_credential}"), ("x-threeport-service", SERVICE_NAME))
    return AsyncClient(target, metadata=metadata)


class ApplicationUsage:
    def __init__(self, applications: ResourceRepository[Any, Any], delivery: AsyncClient | None) -> None:
        self._applications = applications
        self._delivery = delivery

    async def refuse_if_used(self, name: str) -> None:
        """Raises FAILED_PRECONDITION naming what still uses the application ``name``."""
        users = await self.dependent_applications(name) + await self.deployments_of(name)
        if users:
            listed = ", ".join(users)
            raise FailedPrecondition(
                f"{name} is still used by {listed}; delete or change those first, or delete with force "
                "(tptctl delete --force), which breaks them",
                reason="RESOURCE_IN_USE", metadata={"users": listed})

    async def dependent_applications(self, name: str) -> list[str]:
        project, application_id = _project_of(name), name.rsplit("/", 1)[-1]
        users: list[str] = []
        page_token = ""
        while True:
            page, page_token = await self._applications.list(
                parent=project, page_token=page_token, page_size=500, hide_deleting=True)
            for application in page:
                if application.name != name and _depends_on(application, application_id):
                    users.append(application.name)
            if not page_token:
                return users

    async def deployments_of(self, name: str) -> list[str]:
        if self._delivery is None:
            return []  # No delivery in this control plane: nothing can be deployed.
        application_id = name.rsplit("/", 1)[-1]
        try:
            deployments = self._delivery.deployment.list_deployments(
                parent=_project_of(name), filter=f'spec.application = "{application_id}"', timeout=15)
            return [deployment.name async for deployment in deployments]
        except ApiError as error:
            raise Unavailable(
                f"cannot check whether deployments use {name} (workload-delivery: {error.message}); "
                "retry, or delete with force") from error


def _depends_on(application: Any, application_id: str) -> bool:
    for dependency in application.spec.dependencies.values():
        if dependency.type == "application" and dependency.params.fields.get("application") is not None \
                and dependency.params["application"] == application_id:
            return True
    return False


def _project_of(name: str) -> str:
    return "/".join(name.split("/")[:2])
