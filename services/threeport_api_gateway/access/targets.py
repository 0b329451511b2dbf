"""What a request is about, for the audit log: the resource it names and its project.

The project rule is the runtime's (``request_project``: ``name``, ``parent`` or the embedded
resource's ``name``) so that the gateway and the backends agree on it. The resource is the most
specific name the request carries; for a create it is the name the new resource will get.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from threeport.common.v1alpha1 import annotations_pb2
from threeport_runtime.rpc.authorization import request_project


@dataclass(frozen=True)
class Target:
    resource: str
    project: str


def describe(request: Message | None) -> Target:
    if request is None:
        return Target("", "")
    return Target(_resource(request), request_project(request))


def _resource(request: Any) -> str:
    fields = request.DESCRIPTOR.fields_by_name
    if "name" in fields and request.name:
        return str(request.name)
    for field in request.DESCRIPTOR.fields:
        message_type = field.message_type
        if (
            message_type is not None
            and not field.is_repeated
            and "name" in message_type.fields_by_name
            and request.HasField(field.name)
            and getattr(request, field.name).name
        ):
            return str(getattr(request, field.name).name)
    parent = str(request.parent) if "parent" in fields else ""
    created = _created_name(request, parent)
    return created or parent


def _created_name(request: Any, parent: str) -> str:
    """``projects/acme/applications/shop`` for a create of ``shop`` under ``projects/acme``."""
    for field in request.DESCRIPTOR.fields:
        message_type = field.message_type
        if message_type is None:
            continue
        resource = message_type.GetOptions().Extensions[annotations_pb2.resource]
        identifier_field = f"{field.name}_id"
        if not resource.pattern or identifier_field not in request.DESCRIPTOR.fields_by_name:
            continue
        identifier = getattr(request, identifier_field)
        if not identifier:
            return ""
        collection = resource.pattern[0].split("/")[-2]
        return f"{parent}/{collection}/{identifier}" if parent else f"{collection}/{identifier}"
    return ""
