"""``json_format.ParseDict`` (unknown fields ignored), fast for the documents we store.

Resource rows keep spec, status and conditions as ``MessageToDict(preserving_proto_field_name=
True)`` wrote them, and reading them back with protobuf's pure-Python ``ParseDict`` was the
largest CPU cost of a read (~150 us per condition, ~0.4 ms for a Deployment's status). This
reads that shape directly: proto field names (or JSON names, as ``MessageToDict`` writes by
default: releases are stored so), strings, bools, integers (numbers or the decimal
strings int64 becomes), enum names (or numbers), nested messages, lists, string-keyed maps and
UTC timestamps.
Anything else (a field named twice, nulls, floats, bytes, other well-known types,
timestamps with offsets, invalid values) makes the whole document go through ``ParseDict``
itself, so every result and every error is exactly ``ParseDict``'s.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from typing import Any, TypeVar

import orjson
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

M = TypeVar("M", bound=Message)

# RFC 3339 in UTC with 0-9 fraction digits, the form Timestamp.ToJsonString writes.
_UTC_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z")
_EPOCH = datetime(1970, 1, 1)
_TIMESTAMP = Timestamp.DESCRIPTOR.full_name

_INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64),
}

# How a field's value is read: the kinds below, or None (the document goes to ParseDict).
STRING, BOOL, INT, ENUM, MESSAGE, TIMESTAMP = range(6)


# A run of 19 digits, which orjson may not read as json does (it reads integers beyond 64 bits
# as floats), is found by mapping every digit to "0" and everything else to " " (a regex costs
# 3x what orjson does).
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def loads(data: bytes | str) -> Any:
    """``json.loads``, by orjson (~3x cheaper per document; ~8% of the CPU of reading 1,000
    Deployment rows): the engine's JSON deserializer. Text orjson reads differently or refuses (integers of 19 digits
    or more, numbers beyond a double, lone surrogates, NaN) is read by ``json.loads``."""
    if isinstance(data, bytes) and _LONG_NUMBER not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


class _Unusual(Exception):
    """The document is not in the stored shape; ParseDict reads it."""


def parse(document: Any, message: M) -> M:
    """``json_format.ParseDict(document, message, ignore_unknown_fields=True)``, for a message
    that has no fields set (the fast path builds a new one and merges it in)."""
    built = type(message)()
    try:
        known = _fill(document, built)
    except Exception:  # _Unusual, or a value upb refused: ParseDict raises what it would raise
        return json_format.ParseDict(document, message, ignore_unknown_fields=True)
    if known:  # ParseDict marks a sub-message present when it reads any field into it
        message.MergeFrom(built)
    return message


def parse_utc_timestamp(value: Any, target: Timestamp) -> bool:
    """Sets ``target`` as ``Timestamp.FromJsonString`` would, for the UTC form only (False for
    any other input, which is then left to FromJsonString)."""
    match = _UTC_TIMESTAMP.fullmatch(value) if type(value) is str else None
    if match is None:
        return False
    year, month, day, hour, minute, second, fraction = match.groups()
    since_epoch = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second)) - _EPOCH
    target.seconds = since_epoch.days * 86400 + since_epoch.seconds
    target.nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return True


@functools.cache
def _plan(descriptor: Descriptor) -> dict[str, tuple[Any, int | None, bool, bool, str | None]]:
    """Per key ParseDict resolves to a field (its proto name or its JSON name): the field, how
    its values are read, whether it is a map, whether it is repeated, and the field's other name
    (a document naming one field twice is ParseDict's error). A JSON name that is another
    field's proto name makes both keys go to ParseDict (which takes the JSON name first)."""
    plan: dict[str, tuple[Any, int | None, bool, bool, str | None]] = {}
    field: Any
    for field in descriptor.fields:
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        kind = _kind(field.message_type.fields_by_name["value"]) if is_map else _kind(field)
        if is_map and field.message_type.fields_by_name["key"].type != FieldDescriptor.TYPE_STRING:
            kind = None
        alias = field.json_name if field.json_name != field.name else None
        plan[field.name] = (field, kind, bool(is_map), field.is_repeated and not is_map, alias)
    for field in descriptor.fields:
        if field.json_name == field.name:
            continue
        if field.json_name in plan:  # another field's proto name
            plan[field.json_name] = (field, None, False, False, None)
            plan[field.name] = (field, None, False, False, None)
        else:
            _field, kind, is_map, is_repeated, _alias = plan[field.name]
            plan[field.json_name] = (field, kind, is_map, is_repeated, field.name)
    return plan


def _kind(field: Any) -> int | None:
    if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            return TIMESTAMP
        return None if field.message_type.full_name.startswith("google.protobuf.") else MESSAGE
    if field.type == FieldDescriptor.TYPE_STRING:
        return STRING
    if field.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
        return BOOL
    if field.cpp_type in _INT_RANGES:
        return INT
    if field.cpp_type == FieldDescriptor.CPPTYPE_ENUM:
        return ENUM
    return None  # floats and bytes


def _fill(document: Any, message: Message) -> bool:
    """Reads ``document`` into ``message``; True if it had any field of it."""
    if type(document) is not dict:
        raise _Unusual
    plan = _plan(message.DESCRIPTOR)
    oneofs: set[str] = set()
    known = False
    for key, value in document.items():
        entry = plan.get(key)
        if entry is None:
            if key.startswith("["):
                raise _Unusual  # an extension's name
            continue  # unknown: ignored
        field, kind, is_map, is_repeated, alias = entry
        if kind is None or value is None or (alias is not None and alias in document):
            raise _Unusual
        known = True
        if field.containing_oneof is not None:
            if field.containing_oneof.name in oneofs:
                raise _Unusual
            oneofs.add(field.containing_oneof.name)
        if is_map:
            if type(value) is not dict:
                raise _Unusual
            target = getattr(message, field.name)
            value_field = field.message_type.fields_by_name["value"]
            for map_key, item in value.items():
                if kind in (MESSAGE, TIMESTAMP):
                    _fill_message(item, target[map_key], kind)
                else:
                    target[map_key] = _scalar(item, value_field, kind)
        elif is_repeated:
            if type(value) is not list:
                raise _Unusual
            target = getattr(message, field.name)
            if kind in (MESSAGE, TIMESTAMP):
                for item in value:
                    _fill_message(item, target.add(), kind)
            else:
                target.extend([_scalar(item, field, kind) for item in value])
        elif kind in (MESSAGE, TIMESTAMP):
            sub = getattr(message, field.name)
            sub.SetInParent()
            _fill_message(value, sub, kind)
        else:
            setattr(message, field.name, _scalar(value, field, kind))
    return known


def _fill_message(value: Any, target: Any, kind: int) -> None:
    if kind == TIMESTAMP:
        if not parse_utc_timestamp(value, target):
            raise _Unusual
    else:
        _fill(value, target)


def _scalar(value: Any, field: Any, kind: int) -> Any:
    if kind == STRING:
        if type(value) is str:
            return value
    elif kind == BOOL:
        if type(value) is bool:
            return value
    elif kind == INT:
        if type(value) is str and value.isascii() and value.removeprefix("-").isdigit():
            value = int(value)
        if type(value) is int:
            low, high = _INT_RANGES[field.cpp_type]
            if low <= value < high:
                return value
    elif kind == ENUM:
        if type(value) is str:
            enum_value = field.enum_type.values_by_name.get(value)
            if enum_value is not None:
                return enum_value.number
        elif type(value) is int and (value in field.enum_type.values_by_number or not field.enum_type.is_closed):
            return value  # a number MessageToDict wrote for a value this build does not name
    raise _Unusual
