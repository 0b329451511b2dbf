"""Builds request messages from a base message plus keyword arguments, and fills request ids.

Generated methods accept every request field as a keyword argument and also ``request=`` with a
whole message; keyword arguments that are not None replace the message's field. The caller's
message is never modified: the SDK always works on a copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from google.protobuf.message import Message

from ._retry import REQUEST_ID_FIELD

MessageT = TypeVar("MessageT", bound=Message)


# Any: at runtime fields are the C (upb) FieldDescriptor, which the stubs type apart from the
# pure-Python one.
def _is_map(field: Any) -> bool:
    return field.message_type is not None and bool(field.message_type.GetOptions().map_entry)


def _assign(message: Message, field: Any, value: Any) -> None:
    current = getattr(message, field.name)
    if _is_map(field):
        current.clear()
        value_field = field.message_type.fields_by_name["value"]
        for key, item in dict(value).items():
            if value_field.message_type is not None:
                current[key].CopyFrom(item)
            else:
                current[key] = item
    elif field.is_repeated:
        del current[:]
        current.extend(list(value))
    elif field.message_type is not None:
        current.CopyFrom(value)
    else:
        setattr(message, field.name, value)


def build_request(
    message_type: type[MessageT], base: MessageT | None, fields: Mapping[str, object]
) -> MessageT:
    """A new ``message_type`` copied from ``base`` with every non-None entry of ``fields`` set."""
    message = message_type()
    if base is not None:
        message.CopyFrom(base)
    by_name = message.DESCRIPTOR.fields_by_name
    for name, value in fields.items():
        if value is not None:
            _assign(message, by_name[name], value)
    return message


def with_request_id(request: MessageT) -> MessageT:
    """A copy of ``request`` with a fresh uuid in an empty ``request_id``; others unchanged."""
    if REQUEST_ID_FIELD not in request.DESCRIPTOR.fields_by_name or getattr(request, REQUEST_ID_FIELD):
        return request
    filled = type(request)()
    filled.CopyFrom(request)
    setattr(filled, REQUEST_ID_FIELD, str(uuid.uuid4()))
    return filled


def fields_present(message_type: type[Message], values: Mapping[str, object]) -> dict[str, object]:
    """Keeps only the entries of ``values`` that name a field of ``message_type``."""
    known: Iterable[str] = message_type.DESCRIPTOR.fields_by_name
    return {name: value for name, value in values.items() if name in known}
