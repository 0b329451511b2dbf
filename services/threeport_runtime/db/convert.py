"""Converts between resource messages and rows by the standard field names (DESIGN §3).

Every resource message has ``name``, ``uid``, ``labels``, ..., ``state``, ``spec`` and, for most,
``status``; ``spec`` and ``status`` are stored as JSONB in proto field-name form, so any
resource type converts without per-type code.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row

from threeport.common.v1alpha1 import condition_pb2
from threeport_runtime.conditions import state_from_label
from threeport_runtime.db import json_documents
from threeport_runtime.db.schema import ResourceRow

M = TypeVar("M", bound=Message)


def has_status(message_type: type[Message]) -> bool:
    return "status" in message_type.DESCRIPTOR.fields_by_name


def document(message: Message, field: str) -> dict[str, Any]:
    """A sub-message as a JSON object keyed by proto field names."""
    if field not in message.DESCRIPTOR.fields_by_name:
        return {}
    value: dict[str, Any] = json_format.MessageToDict(getattr(message, field), preserving_proto_field_name=True)
    return value


def conditions_to_json(conditions: Any) -> list[dict[str, Any]]:
    return [json_format.MessageToDict(c, preserving_proto_field_name=True) for c in conditions]


def conditions_from_json(items: list[dict[str, Any]]) -> list[condition_pb2.Condition]:
    return [json_documents.parse(item, condition_pb2.Condition()) for item in items]


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def row_to_message(
    row: ResourceRow | Row[Any],
    message_type: type[M],
    *,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
) -> M:
    """The resource message for a row (an ORM object or a plain read's row: the same column
    names); ``spec``/``status`` override the row's (decrypted) JSON."""
    message = message_type()
    target: Any = message
    target.name = row.name
    target.uid = str(row.uid)
    target.labels.update(row.labels or {})
    target.annotations.update(row.annotations or {})
    target.create_time.CopyFrom(timestamp(row.create_time))
    target.update_time.CopyFrom(timestamp(row.update_time))
    if row.delete_time is not None:
        target.delete_time.CopyFrom(timestamp(row.delete_time))
    target.etag = row.etag
    target.generation = row.generation
    target.reconciling = row.reconciling
    target.conditions.extend(conditions_from_json(row.conditions or []))
    target.state = state_from_label(row.state)
    json_documents.parse(row.spec if spec is None else spec, target.spec)
    status_json = row.status if status is None else status
    if has_status(message_type) and status_json:
        json_documents.parse(status_json, target.status)
    return message


def new_uid() -> uuid.UUID:
    return uuid.uuid4()
