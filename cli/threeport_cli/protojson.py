"""Friendly JSON/YAML <-> protobuf conversion for manifests and output.

Manifests say `type: production` and `retainPolicy: retain`, while protobuf's JSON mapping wants
`ENVIRONMENT_TYPE_PRODUCTION`. These helpers accept both spellings on the way in, print the short
one on the way out, and report unknown fields with the manifest path and the allowed names,
instead of protobuf's parser messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

STRUCT_TYPES = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
OPAQUE_TYPES = STRUCT_TYPES | {"google.protobuf.Timestamp", "google.protobuf.Duration",
                               "google.protobuf.FieldMask"}


class ManifestFieldError(ValueError):
    """A value in a manifest does not fit the API; ``path`` says where, the message what is allowed."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.detail = message


def enum_prefix(enum: EnumDescriptor) -> str:
    """`EnvironmentType` -> `ENVIRONMENT_TYPE_` (buf's required value prefix)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


def short_enum_names(enum: EnumDescriptor) -> list[str]:
    prefix = enum_prefix(enum)
    return [
        v.name[len(prefix):].lower() if v.name.startswith(prefix) else v.name
        for v in enum.values if not v.name.endswith("_UNSPECIFIED")
    ]


def _enum_in(value: Any, enum: EnumDescriptor, path: str) -> Any:
    if not isinstance(value, str):
        return value
    if value in enum.values_by_name:
        return value
    candidate = enum_prefix(enum) + value.upper().replace("-", "_")
    if candidate in enum.values_by_name:
        return candidate
    allowed = ", ".join(short_enum_names(enum))
    raise ManifestFieldError(path, f"{value!r} is not one of: {allowed}")


def _fields_by_any_name(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    found: dict[str, FieldDescriptor] = {}
    for field in descriptor.fields:
        found[field.name] = field
        found[field.json_name] = field
    return found


INTEGER_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1), FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}


def yaml_kind(value: Any) -> str:
    """What a YAML value is, in YAML's words (never a Python type name)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({value[:40]!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "an unsupported value"


def _scalar_in(value: Any, field: FieldDescriptor, path: str) -> Any:
    if field.type == FieldDescriptor.TYPE_STRING:
        # YAML reads `PORT: 8080` or `version: 1.32` as numbers; in a string field they are text.
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, int | float | str):
            return str(value)
        raise ManifestFieldError(path, f"expected text, got {yaml_kind(value)}")
    if field.type in INTEGER_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ManifestFieldError(path, f"expected a whole number, got {yaml_kind(value)}")
        low, high = INTEGER_RANGES[field.type]
        if not low <= value <= high:
            raise ManifestFieldError(path, f"{value} is out of range: at most {high}")
        return value
    if field.type == FieldDescriptor.TYPE_BOOL and not isinstance(value, bool):
        raise ManifestFieldError(path, f"expected true or false, got {yaml_kind(value)}")
    return value


def _value_in(value: Any, field: FieldDescriptor, path: str) -> Any:
    if field.type not in (FieldDescriptor.TYPE_ENUM, FieldDescriptor.TYPE_MESSAGE):
        return _scalar_in(value, field, path)
    if field.enum_type is not None:
        return _enum_in(value, field.enum_type, path)
    message_type = field.message_type
    if message_type is not None and message_type.full_name not in OPAQUE_TYPES:
        if not isinstance(value, Mapping):
            raise ManifestFieldError(path, f"expected a mapping, got {yaml_kind(value)}")
        return normalise(value, message_type, path)
    return value


def normalise(data: Mapping[str, Any], descriptor: Descriptor, path: str) -> dict[str, Any]:
    """Checks field names against ``descriptor`` and rewrites short enum names, recursively."""
    fields = _fields_by_any_name(descriptor)
    out: dict[str, Any] = {}
    for key, value in data.items():
        field = fields.get(key)
        where = f"{path}.{key}" if path else str(key)
        if field is None:
            known = ", ".join(sorted(f.json_name for f in descriptor.fields))
            raise ManifestFieldError(where, f"unknown field; {descriptor.name} has: {known}")
        if value is None:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if not isinstance(value, Mapping):
                raise ManifestFieldError(where, f"expected a mapping, got {yaml_kind(value)}")
            value_field = field.message_type.fields_by_name["value"]
            out[key] = {str(k): _value_in(v, value_field, f"{where}.{k}") for k, v in value.items()}
        elif field.is_repeated:
            if not isinstance(value, list):
                raise ManifestFieldError(where, f"expected a list, got {yaml_kind(value)}")
            out[key] = [_value_in(v, field, f"{where}[{i}]") for i, v in enumerate(value)]
        else:
            out[key] = _value_in(value, field, where)
    return out


def parse_into(data: Mapping[str, Any], message: Message, path: str) -> None:
    """Fills ``message`` from manifest data, with errors that name the manifest path."""
    descriptor: Any = message.DESCRIPTOR  # the C implementation has its own Descriptor class
    cleaned = normalise(data, descriptor, path)
    try:
        json_format.ParseDict(cleaned, message)
    except json_format.ParseError as error:
        # What remains are value errors (a string where a number belongs, ...).
        detail = str(error).replace("Failed to parse ", "")
        raise ManifestFieldError(path, detail) from None


def to_friendly_dict(message: Message) -> dict[str, Any]:
    """The message as plain data with camelCase names and short enum names, for YAML/JSON output."""
    data = json_format.MessageToDict(message, preserving_proto_field_name=False)
    descriptor: Any = message.DESCRIPTOR  # the C implementation has its own Descriptor class
    return _shorten_enums(data, descriptor)


def _shorten_enum(value: Any, enum: EnumDescriptor) -> Any:
    prefix = enum_prefix(enum)
    if isinstance(value, str) and value.startswith(prefix):
        return value[len(prefix):].lower()
    return value


INT64_TYPES = {
    FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64,
}


def _shorten_value(value: Any, field: FieldDescriptor) -> Any:
    if field.type in INT64_TYPES and isinstance(value, str):
        # protobuf's JSON writes 64-bit integers as strings (for JavaScript); people read numbers.
        return int(value)
    if field.enum_type is not None:
        return _shorten_enum(value, field.enum_type)
    message_type = field.message_type
    if message_type is not None and message_type.full_name not in OPAQUE_TYPES:
        return _shorten_enums(value, message_type)
    return value


def _shorten_enums(data: dict[str, Any], descriptor: Descriptor) -> dict[str, Any]:
    fields = _fields_by_any_name(descriptor)
    for key, value in list(data.items()):
        field = fields.get(key)
        if field is None:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            data[key] = {k: _shorten_value(v, value_field) for k, v in value.items()}
        elif field.is_repeated:
            data[key] = [_shorten_value(v, field) for v in value]
        else:
            data[key] = _shorten_value(value, field)
    return data
