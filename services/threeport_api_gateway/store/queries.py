"""Lookups across the gateway's resources that several servicers need."""

from __future__ import annotations

from typing import Any

from threeport.gateway.v1alpha1 import role_binding_pb2, token_pb2
from threeport_api_gateway.store.repositories import Repositories
from threeport_runtime.db.repository import ResourceRepository


def quoted(value: str) -> str:
    """A string literal for a filter expression."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def role_bindings_where(repositories: Repositories, field: str, value: str) -> list[role_binding_pb2.RoleBinding]:
    """Every role binding whose ``spec.<field>`` equals ``value``."""
    return await _all(repositories.role_bindings, filter_text=f"spec.{field} = {quoted(value)}")


async def tokens_of(repositories: Repositories, principal: str) -> list[token_pb2.Token]:
    return await _all(repositories.tokens, parent=principal)


async def _all(repository: ResourceRepository[Any, Any], *, parent: str = "", filter_text: str = "") -> list[Any]:
    found: list[Any] = []
    page_token = ""
    while True:
        page, page_token = await repository.list(
            parent=parent, filter_text=filter_text, page_size=1000, page_token=page_token
        )
        found.extend(page)
        if not page_token:
            return found
