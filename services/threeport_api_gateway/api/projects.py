"""ProjectService: tenants. Listing shows only the projects the caller holds a role on
(operators see all). Deleting a project that holds anything - role bindings, or resources in
the backend services (applications, environments, deployments, ...) - is FAILED_PRECONDITION
naming them, unless ``force`` is set: then the bindings go, the project becomes DELETING (no
new resources, its name not reusable) and its resources are deleted consumers first; the
project row goes when they are gone."""

from __future__ import annotations

import asyncio
from typing import Any

from threeport.gateway.v1alpha1 import project_pb2, project_pb2_grpc
from threeport_api_gateway.access.authentication import TokenAuthenticator
from threeport_api_gateway.api.readiness import settle
from threeport_api_gateway.domain import validation
from threeport_api_gateway.domain.names import check_id
from threeport_api_gateway.proxy.contents import ProjectContents
from threeport_api_gateway.store.queries import role_bindings_where
from threeport_api_gateway.store.repositories import Repositories
from threeport_runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from threeport_runtime.rpc.identity import caller

Context = Any
CONTENTS_FINALIZER = "gateway.threeport.io/project-contents"
# How long a forced delete waits for the project's resources to go when the call has no deadline.
FORCE_DELETE_BUDGET = 120.0


class ProjectService(project_pb2_grpc.ProjectServiceServicer):
    def __init__(self, repositories: Repositories, authenticator: TokenAuthenticator, contents: ProjectContents):
        self._repos = repositories
        self._contents = contents
        self._projects = repositories.projects
        self._authenticator = authenticator

    async def CreateProject(self, request: project_pb2.CreateProjectRequest, context: Context) -> project_pb2.Project:
        violations = check_id("project_id", request.project_id) + validation.project(request.project)
        if violations:
            raise InvalidArgument.for_fields(violations)
        created = await self._projects.create(
            request.project,
            name=f"projects/{request.project_id}",
            request_id=request.request_id,
            validate_only=request.validate_only,
        )
        return created if request.validate_only else await settle(self._projects, created)

    async def GetProject(self, request: project_pb2.GetProjectRequest, context: Context) -> project_pb2.Project:
        return await self._projects.get(request.name)

    async def ListProjects(
        self, request: project_pb2.ListProjectsRequest, context: Context
    ) -> project_pb2.ListProjectsResponse:
        who = caller()
        if who.is_operator:
            projects, next_token = await self._projects.list(
                page_size=request.page_size,
                page_token=request.page_token,
                filter_text=request.filter,
                hide_deleting=request.hide_deleting,
            )
        else:
            projects, next_token = await self._repos.list_projects_among(
                {grant.project for grant in who.grants if grant.project},
                page_size=request.page_size,
                page_token=request.page_token,
                filter_text=request.filter,
                hide_deleting=request.hide_deleting,
            )
        return project_pb2.ListProjectsResponse(projects=projects, next_page_token=next_token)

    async def UpdateProject(self, request: project_pb2.UpdateProjectRequest, context: Context) -> project_pb2.Project:
        violations = validation.project(request.project)
        if violations:
            raise InvalidArgument.for_fields(violations)
        # Creating through update must not let a project admin mint projects.
        if (
            request.allow_missing
            and not caller().is_operator
            and await self._projects.find(request.project.name) is None
        ):
            raise PermissionDenied("only an operator may create a project (update with allow_missing)")
        updated = await self._projects.update(
            request.project,
            list(request.update_mask.paths),
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
        )
        return updated if request.validate_only else await settle(self._projects, updated)

    async def DeleteProject(self, request: project_pb2.DeleteProjectRequest, context: Context) -> project_pb2.Project:
        project = await self._projects.find(request.name)
        if project is None:
            return await self._projects.delete(request.name, allow_missing=request.allow_missing)
        principal = caller().principal
        bindings = await role_bindings_where(self._repos, "project", request.name)
        held = await self._contents.held(request.name, principal)
        if (bindings or held) and not request.force:
            raise FailedPrecondition(
                f"project {request.name!r} is not empty: it holds {_listed(held + [b.name for b in bindings])}; "
                "delete them first, or delete the project with force to delete everything in it",
                reason="RESOURCE_IN_USE",
            )
        # Validate the etag before removing anything, so a stale delete changes nothing.
        checked = await self._projects.delete(request.name, etag=request.etag, validate_only=True)
        if request.validate_only:
            return checked
        for binding in bindings:
            await self._repos.role_bindings.delete(binding.name, allow_missing=True)
            self._authenticator.forget_principal(binding.spec.principal)
        if held:
            # DELETING from here on: nothing new can be created in it and its name cannot be
            # reused until everything it held is gone (the finalizer keeps the row).
            await self._projects.add_finalizer(request.name, CONTENTS_FINALIZER)
            await self._projects.delete(request.name)
            remaining = context.time_remaining()
            budget = FORCE_DELETE_BUDGET if remaining is None else max(remaining - 1.0, 0.0)
            deadline = asyncio.get_running_loop().time() + budget
            left = await self._contents.delete_all(request.name, principal, deadline)
            if left:
                raise FailedPrecondition(
                    f"project {request.name!r} is being deleted but still holds {_listed(left)}; "
                    "run the delete with force again (or with a longer timeout) to finish",
                    reason="RESOURCE_IN_USE",
                )
        # Also finishes a forced delete that was interrupted and whose resources went meanwhile.
        await self._projects.remove_finalizer(request.name, CONTENTS_FINALIZER)
        deleted = await self._projects.delete(request.name, allow_missing=True)
        return deleted if deleted.name else checked


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")
