"""The standard methods (Create/Get/List/Update/Delete/Watch) of one resource type, once.

Every servicer method of a plain resource is the same few lines over a ``ResourceRepository``:
read the request's standard fields (protos/README.md), check the parent and id, call the
repository with the service's validator, and wrap the result. Servicers delegate to this:

    class ApplicationServicer(application_pb2_grpc.ApplicationServiceServicer):
        def __init__(self, methods: StandardMethods[Application]):
            self._methods = methods
        async def CreateApplication(self, request, context):
            return await self._methods.create(request)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message
from redis.asyncio import Redis

from threeport.common.v1alpha1 import annotations_pb2
from threeport_model.names import is_dns_label
from threeport_runtime.db.repository import WILDCARD, ResourceRepository
from threeport_runtime.errors import FieldViolation, InvalidArgument
from threeport_runtime.rpc.watch import watch_resources

M = TypeVar("M", bound=Message)

DNS_LABEL_RULE = (
    "must be a DNS-1123 label: lowercase letters, digits and '-', starting with a letter and "
    "ending with a letter or digit, at most 63 characters"
)

Validator = Callable[[M], None]


def _snake(word: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", word).lower()


class StandardMethods(Generic[M]):
    """Implements the standard methods for the resource ``repository`` stores.

    ``validate`` runs on the final resource before anything is written (create and update) and
    raises ``InvalidArgument``. ``parent_pattern`` is the collection's parent, e.g.
    ``projects/{project}``; empty for global collections.
    """

    def __init__(
        self,
        repository: ResourceRepository[M, Any],
        redis: Redis,
        *,
        validate: Validator[M] | None = None,
        heartbeat_interval: float = 5.0,
    ) -> None:
        self.repository = repository
        self._redis = redis
        self._validate = validate
        self._heartbeat_interval = heartbeat_interval
        message_type = repository.message_type
        descriptor = message_type.DESCRIPTOR.GetOptions().Extensions[annotations_pb2.resource]
        pattern = descriptor.pattern[0]
        segments = pattern.split("/")
        self.collection = segments[-2]
        self.parent_pattern = "/".join(segments[:-2])
        self.field = _snake(message_type.DESCRIPTOR.name)
        self.id_field = f"{self.field}_id"

    # -- helpers --------------------------------------------------------------------------------

    def name_for(self, parent: str, resource_id: str) -> str:
        return f"{parent}/{self.collection}/{resource_id}" if parent else f"{self.collection}/{resource_id}"

    def check_parent(
        self, parent: str, field: str = "parent", *, wildcards_allowed: bool = False
    ) -> list[FieldViolation]:
        """The parent must fit the collection's parent pattern (`projects/{project}` ...); List
        also takes `-` for an id above the project's (all applications of a project)."""
        if not self.parent_pattern:
            return [FieldViolation(field, "must be empty: this collection is global")] if parent else []
        wanted = self.parent_pattern.split("/")
        given = parent.split("/")
        fits = len(wanted) == len(given) and all(
            _segment_fits(w, g, wildcards_allowed) for w, g in zip(wanted, given, strict=True))
        if fits:
            return []
        example = self.parent_pattern.replace("{project}", "acme").replace("{application}", "shop")
        return [FieldViolation(field, f"must be {self.parent_pattern}, e.g. {example}")]

    def check_parent_and_id(self, parent: str, resource_id: str, resource: M | None = None) -> None:
        """Raises INVALID_ARGUMENT for a bad parent or id, listing the resource's own violations
        too, so that one round trip shows everything to fix."""
        violations = self.check_parent(parent)
        if not is_dns_label(resource_id):
            violations.append(FieldViolation(self.id_field, f"{resource_id!r} {DNS_LABEL_RULE}"))
        if not violations:
            return
        if resource is not None and self._validate is not None:
            try:
                self._validate(resource)
            except InvalidArgument as error:
                violations.extend(error.violations)
        raise InvalidArgument.for_fields(violations)

    # -- the standard methods -------------------------------------------------------------------

    async def create(self, request: Any) -> M:
        parent = request.parent if "parent" in request.DESCRIPTOR.fields_by_name else ""
        resource_id = getattr(request, self.id_field)
        self.check_parent_and_id(parent, resource_id, getattr(request, self.field))
        return await self.repository.create(
            getattr(request, self.field),
            name=self.name_for(parent, resource_id),
            request_id=request.request_id,
            validate_only=request.validate_only,
            validate=self._validate,
        )

    async def get(self, request: Any) -> M:
        return await self.repository.get(request.name)

    async def list(self, request: Any, response_type: type[Message]) -> Any:
        parent = request.parent if "parent" in request.DESCRIPTOR.fields_by_name else ""
        if parent or self.parent_pattern:
            violations = self.check_parent(parent, wildcards_allowed=True)
            if violations:
                raise InvalidArgument.for_fields(violations)
        hide_deleting = getattr(request, "hide_deleting", False)
        items, next_page_token = await self.repository.list(
            parent=parent,
            page_size=request.page_size,
            page_token=request.page_token,
            filter_text=request.filter,
            hide_deleting=hide_deleting,
        )
        items_field = response_type.DESCRIPTOR.fields[0].name
        return response_type(**{items_field: items, "next_page_token": next_page_token})

    async def update(self, request: Any) -> M:
        return await self.repository.update(
            getattr(request, self.field),
            list(request.update_mask.paths),
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
            validate=self._validate,
        )

    async def delete(self, request: Any) -> M:
        return await self.repository.delete(
            request.name,
            etag=request.etag,
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
        )

    async def watch(self, request: Any, response_type: type[Message]) -> AsyncIterator[Any]:
        parent = request.parent if "parent" in request.DESCRIPTOR.fields_by_name else ""
        resource_field = response_type.DESCRIPTOR.fields_by_name[self.field].name

        def respond(kind: Any, resource: M | None, resource_version: str) -> Any:
            response = response_type(type=kind, resource_version=resource_version)
            if resource is not None:
                getattr(response, resource_field).CopyFrom(resource)
            return response

        async for response in watch_resources(
            self.repository,
            self._redis,
            respond,
            parent=parent,
            filter_text=request.filter,
            resource_version=request.resource_version,
            heartbeat_interval=self._heartbeat_interval,
        ):
            yield response


def _segment_fits(wanted: str, given: str, wildcards_allowed: bool) -> bool:
    """One segment of a parent: the literal, an id for a ``{placeholder}``, or (in List) AIP-159's
    ``-`` for any id but the project's, which authorization needs."""
    if not wanted.startswith("{"):
        return wanted == given
    if wildcards_allowed and given == WILDCARD and wanted != "{project}":
        return True
    return is_dns_label(given)
