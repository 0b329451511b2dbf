"""Building the gRPC request of an HTTP call, and the JSON of its answer.

As ``google.api.http`` specifies: path variables set their fields, the body fills the field
the rule names (or the whole request for ``body: "*"``), and the query string sets any other
field by its path (``?page_size=10&filter=...``; repeated fields take the parameter more than
once). JSON follows the protobuf JSON mapping (lowerCamelCase names; snake_case is accepted on
input). Anything that does not fit is INVALID_ARGUMENT naming the parameter, before any call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from threeport_api_gateway.http.routes import Route
from threeport_runtime.errors import FieldViolation, InvalidArgument

_INTEGERS = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}
_FLOATS = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}


def build_request(
    route: Route, variables: Mapping[str, str], query: Iterable[tuple[str, str]], body: bytes
) -> Message:
    request = route.method.request_type()
    if route.body:
        _fill_body(request, route.body, body)
    elif body.strip():
        raise InvalidArgument.for_fields(
            [FieldViolation("body", f"{route.verb} {route.template.template} takes no body; use query parameters")]
        )
    bound = set(variables)
    if route.body and route.body != "*":
        bound.add(route.body)
    parameters: dict[str, list[str]] = {}
    for key, value in query:
        parameters.setdefault(key, []).append(value)
    for key, values in parameters.items():
        if route.body == "*" or any(key == b or key.startswith(b + ".") for b in bound):
            raise InvalidArgument.for_fields(
                [FieldViolation(key, "is set by the path or the body of this call, not by a query parameter")]
            )
        _set_path(request, key, values, from_query=True)
    for field_path, value in variables.items():
        _set_path(request, field_path, [value], from_query=False)
    return request


def to_json(message: Message) -> dict[str, Any]:
    converted: dict[str, Any] = json_format.MessageToDict(message)
    return converted


def _fill_body(request: Message, field: str, body: bytes) -> None:
    try:
        document = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise InvalidArgument.for_fields([FieldViolation("body", f"is not valid JSON: {problem}")]) from None
    if not isinstance(document, dict):
        raise InvalidArgument.for_fields([FieldViolation("body", "must be a JSON object")])
    target = request if field == "*" else getattr(request, field)
    try:
        json_format.ParseDict(document, target)
    except json_format.ParseError as problem:
        where = "body" if field == "*" else f"body ({field})"
        raise InvalidArgument.for_fields([FieldViolation(where, str(problem))]) from None


def _set_path(request: Message, path: str, values: list[str], *, from_query: bool) -> None:
    parts = path.split(".")
    message = request
    for part in parts[:-1]:
        field = _field(message.DESCRIPTOR, part, path)
        if field.type != FieldDescriptor.TYPE_MESSAGE or _repeated(field):
            raise InvalidArgument.for_fields([FieldViolation(path, f"{part} is not a message field")])
        message = getattr(message, field.name)
    field = _field(message.DESCRIPTOR, parts[-1], path)
    if field.type == FieldDescriptor.TYPE_MESSAGE and not _well_known(field):
        raise InvalidArgument.for_fields(
            [FieldViolation(path, "is a message; set its fields one by one (e.g. a.b=value)")]
        )
    if not _repeated(field) and len(values) > 1:
        raise InvalidArgument.for_fields([FieldViolation(path, "takes one value, got several")])
    converted = [_scalar(field, value, path) for value in values]
    document = {field.json_name: converted if _repeated(field) else converted[0]}
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=False)
    except json_format.ParseError as problem:
        origin = "query parameter" if from_query else "path"
        raise InvalidArgument.for_fields([FieldViolation(path, f"bad {origin} value: {problem}")]) from None


def _field(descriptor: Descriptor | Any, name: str, path: str) -> FieldDescriptor:
    field = descriptor.fields_by_name.get(name) or next(
        (f for f in descriptor.fields if f.json_name == name), None
    )
    if field is None:
        raise InvalidArgument.for_fields(
            [FieldViolation(path, f"{descriptor.full_name} has no field {name!r}")]
        )
    return field


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _well_known(field: FieldDescriptor) -> bool:
    # FieldMask, Duration, Timestamp and wrappers have a string form in JSON.
    return field.message_type is not None and field.message_type.full_name.startswith("google.protobuf.")


def _scalar(field: FieldDescriptor, value: str, path: str) -> Any:
    if field.type == FieldDescriptor.TYPE_BOOL:
        if value.lower() in ("true", "1", ""):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise InvalidArgument.for_fields([FieldViolation(path, f"must be true or false, got {value!r}")])
    try:
        if field.type in _INTEGERS:
            return int(value)
        if field.type in _FLOATS:
            return float(value)
    except ValueError:
        raise InvalidArgument.for_fields([FieldViolation(path, f"must be a number, got {value!r}")]) from None
    return value
