"""What a project holds in the backend services, and deleting all of it in order.

The gateway learns the project-scoped collections from the API itself: every public ``List``
method whose resource pattern is ``projects/{project}/<collection>/{id}`` (applications,
environments, deployments, ...), so a new service's resources are covered without gateway code.
It calls the owning services directly with the service credential, on behalf of the caller
(who is already authorized as the project's admin) with the operator role inside that project.
A configured service that cannot be asked makes the answer UNAVAILABLE: a project is never
called empty on a guess.

Deletion goes consumers first (deployments before the applications and environments they use),
a stage at a time, because providers refuse to delete what is still in use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from threeport.common.v1alpha1 import annotations_pb2
from threeport_api_gateway.access.methods import MethodTable
from threeport_api_gateway.config import LOCAL_DOMAIN
from threeport_api_gateway.proxy.backends import Backends, BackendUnavailable
from threeport_runtime.rpc.identity import PRINCIPAL, ROLES

# Consumers before providers: a provider refuses to delete what a consumer still uses.
DELETE_ORDER = ("delivery", "addons", "infra", "registry", "clusters")
CALL_TIMEOUT = 10.0
POLL_INTERVAL = 0.25


@dataclass(frozen=True)
class Collection:
    domain: str
    plural: str
    list_path: str
    delete_path: str
    list_request: type[Message]
    list_response: type[Message]
    delete_request: type[Message]
    items_field: str


class ProjectContents:
    def __init__(self, methods: MethodTable, backends: Backends):
        self._backends = backends
        self.collections = _project_collections(methods)

    async def held(self, project: str, principal: str, *, limit: int = 10) -> list[str]:
        """Names of up to ``limit`` resources per collection in ``project`` (``projects/x``)."""
        found: list[str] = []
        for collection in self.collections:
            if self._backends.address(collection.domain):
                found.extend(await self._names(collection, project, principal, limit))
        return found

    async def delete_all(self, project: str, principal: str, deadline: float) -> list[str]:
        """Deletes everything in ``project`` stage by stage; returns what is still there when
        ``deadline`` (loop time) passes, or [] when the project is empty."""
        loop = asyncio.get_running_loop()
        for stage in _stages(self.collections):
            while True:
                remaining: list[tuple[Collection, str]] = []
                for collection in stage:
                    if self._backends.address(collection.domain):
                        names = await self._names(collection, project, principal, 100)
                        remaining.extend((collection, name) for name in names)
                if not remaining:
                    break
                for collection, name in remaining:
                    await self._delete(collection, name, principal)
                if loop.time() >= deadline:
                    return [name for _, name in remaining]
                await asyncio.sleep(POLL_INTERVAL)
        return []

    async def _names(self, collection: Collection, project: str, principal: str, limit: int) -> list[str]:
        request: Any = collection.list_request(parent=project, page_size=limit)
        response: Any = await self._call(
            collection, collection.list_path, request, collection.list_response, principal
        )
        return [] if response is None else [item.name for item in getattr(response, collection.items_field)]

    async def _delete(self, collection: Collection, name: str, principal: str) -> None:
        request: Any = collection.delete_request(name=name, allow_missing=True)
        if "force" in request.DESCRIPTOR.fields_by_name:
            request.force = True
        await self._call(collection, collection.delete_path, request, None, principal)

    async def _call(
        self, collection: Collection, path: str, request: Message, response: type[Message] | None, principal: str
    ) -> Message | None:
        channel = self._backends.channel(collection.domain)
        call = channel.unary_unary(
            path,
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response.FromString if response is not None else None,
        )
        calls = self._backends.calls
        try:
            with calls.span(path):
                metadata = calls.metadata(((PRINCIPAL, principal), (ROLES, "operator")))
                result: Message | None = await call(request, metadata=metadata, timeout=CALL_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                return None  # that service does not serve this collection: it holds nothing of it
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                backend = self._backends.backend(collection.domain)
                raise BackendUnavailable(backend, "did not answer about the project's resources") from None
            raise
        return result


def _stages(collections: Sequence[Collection]) -> list[list[Collection]]:
    rank = {domain: index for index, domain in enumerate(DELETE_ORDER)}
    ordered = sorted({c.domain for c in collections}, key=lambda d: rank.get(d, len(rank)))
    return [[c for c in collections if c.domain == domain] for domain in ordered]


def _project_collections(methods: MethodTable) -> list[Collection]:
    pool = descriptor_pool.Default()
    found: list[Collection] = []
    for path, info in sorted(methods.items()):
        method_name = path.rsplit("/", 1)[-1]
        if info.domain == LOCAL_DOMAIN or not method_name.startswith("List") or info.internal:
            continue
        if "parent" not in info.request_type.DESCRIPTOR.fields_by_name:
            continue
        method = pool.FindMethodByName(path.lstrip("/").replace("/", "."))
        for field in method.output_type.fields:
            item_type = field.message_type
            if item_type is None or not field.is_repeated:
                continue
            resource = item_type.GetOptions().Extensions[annotations_pb2.resource]
            if not resource.pattern:
                continue
            segments = resource.pattern[0].split("/")
            if len(segments) != 4 or segments[0] != "projects":
                continue
            delete_path = f"/{info.service}/Delete{item_type.name}"
            if delete_path not in methods:
                continue
            found.append(
                Collection(
                    domain=info.domain,
                    plural=segments[2],
                    list_path=path,
                    delete_path=delete_path,
                    list_request=info.request_type,
                    list_response=message_factory.GetMessageClass(method.output_type),
                    delete_request=methods[delete_path].request_type,
                    items_field=field.name,
                )
            )
    return found
