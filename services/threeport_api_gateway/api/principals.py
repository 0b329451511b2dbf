"""PrincipalService: people and service accounts, and ``GetCurrentPrincipal`` for the caller.

Deleting a principal also deletes its tokens and role bindings, so nothing it held keeps
working. Deleting the last operator would lock everyone out, so it needs ``force``.
"""

from __future__ import annotations

from typing import Any

from threeport.common.v1alpha1 import annotations_pb2
from threeport.gateway.v1alpha1 import principal_pb2, principal_pb2_grpc
from threeport_api_gateway.access.authentication import TokenAuthenticator
from threeport_api_gateway.api.readiness import settle
from threeport_api_gateway.domain import validation
from threeport_api_gateway.domain.names import check_id
from threeport_api_gateway.store.queries import role_bindings_where, tokens_of
from threeport_api_gateway.store.repositories import Repositories
from threeport_runtime.errors import FailedPrecondition, InvalidArgument
from threeport_runtime.rpc.identity import caller

Context = Any


class PrincipalService(principal_pb2_grpc.PrincipalServiceServicer):
    def __init__(self, repositories: Repositories, authenticator: TokenAuthenticator):
        self._repos = repositories
        self._principals = repositories.principals
        self._authenticator = authenticator

    async def CreatePrincipal(
        self, request: principal_pb2.CreatePrincipalRequest, context: Context
    ) -> principal_pb2.Principal:
        violations = check_id("principal_id", request.principal_id) + validation.principal(request.principal)
        if violations:
            raise InvalidArgument.for_fields(violations)
        created = await self._principals.create(
            request.principal,
            name=f"principals/{request.principal_id}",
            request_id=request.request_id,
            validate_only=request.validate_only,
        )
        return created if request.validate_only else await settle(self._principals, created)

    async def GetPrincipal(
        self, request: principal_pb2.GetPrincipalRequest, context: Context
    ) -> principal_pb2.Principal:
        return await self._principals.get(request.name)

    async def ListPrincipals(
        self, request: principal_pb2.ListPrincipalsRequest, context: Context
    ) -> principal_pb2.ListPrincipalsResponse:
        principals, next_token = await self._principals.list(
            page_size=request.page_size,
            page_token=request.page_token,
            filter_text=request.filter,
            hide_deleting=request.hide_deleting,
        )
        return principal_pb2.ListPrincipalsResponse(principals=principals, next_page_token=next_token)

    async def UpdatePrincipal(
        self, request: principal_pb2.UpdatePrincipalRequest, context: Context
    ) -> principal_pb2.Principal:
        violations = validation.principal(request.principal)
        if violations:
            raise InvalidArgument.for_fields(violations)
        updated = await self._principals.update(
            request.principal,
            list(request.update_mask.paths),
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
        )
        if request.validate_only:
            return updated
        # ``disabled`` may have changed: the next call re-reads the principal.
        self._authenticator.forget_principal(updated.name)
        return await settle(self._principals, updated)

    async def DeletePrincipal(
        self, request: principal_pb2.DeletePrincipalRequest, context: Context
    ) -> principal_pb2.Principal:
        if request.allow_missing and await self._principals.find(request.name) is None:
            return principal_pb2.Principal()
        bindings = await role_bindings_where(self._repos, "principal", request.name)
        if not request.force and any(b.spec.role == annotations_pb2.ROLE_OPERATOR for b in bindings):
            operators = await role_bindings_where(self._repos, "role", "ROLE_OPERATOR")
            if {b.spec.principal for b in operators} == {request.name}:
                raise FailedPrecondition(
                    f"{request.name} is the last operator; grant another principal the operator role "
                    "first, or delete with force",
                    reason="RESOURCE_IN_USE",
                )
        if request.validate_only:
            return await self._principals.delete(request.name, etag=request.etag, validate_only=True)
        await self._principals.delete(request.name, etag=request.etag, validate_only=True)
        # Credentials first: from here on none of its tokens authenticates.
        for token in await tokens_of(self._repos, request.name):
            await self._repos.tokens.delete(token.name, allow_missing=True)
        for binding in bindings:
            await self._repos.role_bindings.delete(binding.name, allow_missing=True)
        self._authenticator.forget_principal(request.name)
        return await self._principals.delete(request.name, etag=request.etag, allow_missing=request.allow_missing)

    async def GetCurrentPrincipal(
        self, request: principal_pb2.GetCurrentPrincipalRequest, context: Context
    ) -> principal_pb2.GetCurrentPrincipalResponse:
        who = caller()
        principal = await self._principals.get(who.principal)
        bindings = await role_bindings_where(self._repos, "principal", who.principal)
        return principal_pb2.GetCurrentPrincipalResponse(principal=principal, role_bindings=bindings)
