"""RoleBindingService: grants of a role to a principal, on a project or (operator) globally.

The principal and the project must exist when the binding is created. Every change drops the
principal's cached identity, so a new or removed role applies from the next call.
"""

from __future__ import annotations

from typing import Any

from threeport.gateway.v1alpha1 import role_binding_pb2, role_binding_pb2_grpc
from threeport_api_gateway.access.authentication import TokenAuthenticator
from threeport_api_gateway.api.readiness import settle
from threeport_api_gateway.domain import validation
from threeport_api_gateway.domain.names import check_id
from threeport_api_gateway.store.repositories import Repositories
from threeport_runtime.errors import FieldViolation, InvalidArgument

Context = Any


class RoleBindingService(role_binding_pb2_grpc.RoleBindingServiceServicer):
    def __init__(self, repositories: Repositories, authenticator: TokenAuthenticator):
        self._repos = repositories
        self._bindings = repositories.role_bindings
        self._authenticator = authenticator

    async def CreateRoleBinding(
        self, request: role_binding_pb2.CreateRoleBindingRequest, context: Context
    ) -> role_binding_pb2.RoleBinding:
        binding = request.role_binding
        violations = check_id("role_binding_id", request.role_binding_id) + validation.role_binding(binding)
        if not violations:
            violations = await self._missing_references(binding)
        if violations:
            raise InvalidArgument.for_fields(violations)
        created = await self._bindings.create(
            binding,
            name=f"roleBindings/{request.role_binding_id}",
            request_id=request.request_id,
            validate_only=request.validate_only,
        )
        if request.validate_only:
            return created
        self._authenticator.forget_principal(created.spec.principal)
        return await settle(self._bindings, created)

    async def GetRoleBinding(
        self, request: role_binding_pb2.GetRoleBindingRequest, context: Context
    ) -> role_binding_pb2.RoleBinding:
        return await self._bindings.get(request.name)

    async def ListRoleBindings(
        self, request: role_binding_pb2.ListRoleBindingsRequest, context: Context
    ) -> role_binding_pb2.ListRoleBindingsResponse:
        bindings, next_token = await self._bindings.list(
            page_size=request.page_size,
            page_token=request.page_token,
            filter_text=request.filter,
            hide_deleting=request.hide_deleting,
        )
        return role_binding_pb2.ListRoleBindingsResponse(role_bindings=bindings, next_page_token=next_token)

    async def DeleteRoleBinding(
        self, request: role_binding_pb2.DeleteRoleBindingRequest, context: Context
    ) -> role_binding_pb2.RoleBinding:
        deleted = await self._bindings.delete(
            request.name,
            etag=request.etag,
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
        )
        if deleted.spec.principal and not request.validate_only:
            self._authenticator.forget_principal(deleted.spec.principal)
        return deleted

    async def _missing_references(self, binding: role_binding_pb2.RoleBinding) -> list[FieldViolation]:
        violations = []
        if await self._repos.principals.find(binding.spec.principal) is None:
            violations.append(FieldViolation("role_binding.spec.principal", f"{binding.spec.principal} does not exist"))
        if binding.spec.project and await self._repos.projects.find(binding.spec.project) is None:
            violations.append(FieldViolation("role_binding.spec.project", f"{binding.spec.project} does not exist"))
        return violations
