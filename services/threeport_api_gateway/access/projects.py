"""Refuses changes in a project that does not exist or is being deleted - for operators too.

Projects live in the gateway, their resources in the backend services, which cannot check the
project themselves (a service reads only its own schema). So the gateway checks every
``mutating`` proxied call that names a project before forwarding it: without this, an operator
could create applications in a project nobody owns, and a project re-created under an old name
could meet resources that outlived the old one. Deletes stay allowed in a DELETING project (its
own forced delete removes what it holds).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from threeport.gateway.v1alpha1 import project_pb2
from threeport_api_gateway.access.methods import MethodInfo
from threeport_api_gateway.config import LOCAL_DOMAIN
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.errors import FailedPrecondition, NotFound
from threeport_runtime.rpc.authorization import request_project


class ProjectGuard:
    def __init__(self, projects: ResourceRepository[project_pb2.Project, Any]):
        self._projects = projects

    async def check(self, info: MethodInfo, request: Message | None) -> None:
        if info.domain == LOCAL_DOMAIN or not info.mutating:
            return
        project = request_project(request)
        if not project:
            return
        found = await self._projects.find(project)
        project_id = project.split("/", 1)[1]
        if found is None:
            raise NotFound(
                f"project {project_id!r} does not exist; an operator creates it with "
                f"`tptctl project create {project_id}`",
                metadata={"project": project},
            )
        if found.HasField("delete_time") and not info.path.rsplit("/", 1)[-1].startswith("Delete"):
            raise FailedPrecondition(
                f"project {project_id!r} is being deleted; nothing new can be created or changed in it",
                reason="RESOURCE_DELETING",
                metadata={"project": project},
            )
