"""Generic standard-method calls for any resource type, driven by the SDK's resource index.

The CLI works on every kind the API has without per-kind code: the index says which message and
which methods belong to a kind, and the standard request shapes (protos/README.md) say how to
fill them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf.message import Message

from threeport.sdk import Client
from threeport.sdk._index import MethodRef, ResourceType
from threeport_cli.errors import CommandError
from threeport_cli.exit_codes import ExitCode


def _method(resource_type: ResourceType, verb: str) -> MethodRef:
    method: MethodRef | None = getattr(resource_type, verb)
    if method is None:
        raise CommandError(f"{resource_type.plural} cannot be {verb}d through the API", ExitCode.USAGE)
    return method


def _call(client: Client, method: MethodRef, request: Message) -> Any:
    return method.bind(client)(request=request)


def _resource_field(request_type: type[Message], resource_type: ResourceType) -> str:
    wanted = resource_type.message_type.DESCRIPTOR.full_name
    for field in request_type.DESCRIPTOR.fields:
        if field.message_type is not None and field.message_type.full_name == wanted:
            return str(field.name)
    raise CommandError(f"cannot find the {resource_type.kind} field of {request_type.DESCRIPTOR.name}")


def get(client: Client, resource_type: ResourceType, name: str) -> Message:
    method = _method(resource_type, "get")
    result: Message = _call(client, method, method.request_type(name=name))
    return result


def list_all(
    client: Client, resource_type: ResourceType, parent: str, filter_text: str = ""
) -> Iterator[Message]:
    method = _method(resource_type, "list")
    request = method.request_type()
    if "parent" in request.DESCRIPTOR.fields_by_name:
        request.parent = parent  # type: ignore[attr-defined]
    if filter_text:
        request.filter = filter_text  # type: ignore[attr-defined]
    items: Iterator[Message] = _call(client, method, request)
    return items


def create(client: Client, resource_type: ResourceType, message: Message, parent: str, resource_id: str,
           validate_only: bool) -> Message:
    method = _method(resource_type, "create")
    request = method.request_type()
    fields = request.DESCRIPTOR.fields_by_name
    getattr(request, _resource_field(method.request_type, resource_type)).CopyFrom(message)
    if "parent" in fields:
        request.parent = parent  # type: ignore[attr-defined]
    id_field = next((f for f in fields if f.endswith("_id") and f != "request_id"), None)
    if id_field:
        setattr(request, id_field, resource_id)
    if "validate_only" in fields:
        request.validate_only = validate_only  # type: ignore[attr-defined]
    result: Message = _call(client, method, request)
    return result


def update(client: Client, resource_type: ResourceType, message: Message, validate_only: bool) -> Message:
    method = _method(resource_type, "update")
    request = method.request_type()
    getattr(request, _resource_field(method.request_type, resource_type)).CopyFrom(message)
    request.validate_only = validate_only  # type: ignore[attr-defined]
    result: Message = _call(client, method, request)
    return result


def delete(client: Client, resource_type: ResourceType, name: str, *, force: bool = False,
           allow_missing: bool = False) -> Message:
    method = _method(resource_type, "delete")
    request = method.request_type(name=name)
    fields = request.DESCRIPTOR.fields_by_name
    if "force" in fields:
        request.force = force  # type: ignore[attr-defined]
    if "allow_missing" in fields:
        request.allow_missing = allow_missing  # type: ignore[attr-defined]
    result: Message = _call(client, method, request)
    return result
