"""Converts between resource messages and rows by the standard field names (DESIGN §3).

Every resource message has ``name``, ``uid``, ``labels``, ..., ``state``, ``spec`` and, for most,
``status``; ``spec`` and ``status`` are stored as JSONB in proto field-name form, so any
resource type converts without per-type code.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from threeport.common.v1alpha1 import condition_pb2
from threeport_runtime.conditions import state_from_label
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
    """The conditions stored as ``conditions_to_json`` wrote them, exactly as ``ParseDict`` (with
    unknown fields ignored) reads them: every read and write of a resource converts its
    conditions, and ``ParseDict`` costs ~150 us per condition. The shape ``conditions_to_json``
    writes is built directly; anything else (camelCase keys, nulls, numbers for enums, odd
    timestamps, errors) goes through ``ParseDict`` itself, so its results and errors stay exact."""
    return [_condition_from_json(item) for item in items]


_CONDITION_STATUS = {value.name: value.number for value in condition_pb2.ConditionStatus.DESCRIPTOR.values}
_CONDITION_STRINGS = ("type", "reason", "message")
_CONDITION_KEYS = frozenset((*_CONDITION_STRINGS, "status", "observed_generation", "last_transition_time"))
# RFC 3339 in UTC with 0-9 fraction digits, the form Timestamp.ToJsonString writes.
_UTC_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z")
_EPOCH = datetime(1970, 1, 1)


def _condition_from_json(item: Any) -> condition_pb2.Condition:
    try:
        condition = _condition_fast(item)
    except Exception:  # ParseDict, below, raises the error it would have raised anyway
        condition = None
    if condition is None:
        condition = json_format.ParseDict(item, condition_pb2.Condition(), ignore_unknown_fields=True)
    return condition


def _condition_fast(item: Any) -> condition_pb2.Condition | None:
    """The condition if ``item`` has exactly the shape ``conditions_to_json`` writes, else None."""
    if type(item) is not dict or not _CONDITION_KEYS.issuperset(item):
        return None
    condition = condition_pb2.Condition()
    for key in _CONDITION_STRINGS:
        if key in item:
            if type(item[key]) is not str:
                return None
            setattr(condition, key, item[key])
    if "status" in item:
        number = _CONDITION_STATUS.get(item["status"]) if type(item["status"]) is str else None
        if number is None:
            return None
        condition.status = number  # type: ignore[assignment]
    if "observed_generation" in item:
        generation = _int64(item["observed_generation"])
        if generation is None:
            return None
        condition.observed_generation = generation
    if "last_transition_time" in item and not _parse_utc_timestamp(
        item["last_transition_time"], condition.last_transition_time
    ):
        return None
    return condition


def _int64(value: Any) -> int | None:
    """An int64 as MessageToDict writes it (a decimal string) or as JSON has it (a number)."""
    if type(value) is str and value.isascii() and value.removeprefix("-").isdigit():
        value = int(value)
    if type(value) is int:
        return value if -(2**63) <= value < 2**63 else None
    return None


def _parse_utc_timestamp(value: Any, target: Timestamp) -> bool:
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


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def row_to_message(
    row: ResourceRow,
    message_type: type[M],
    *,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
) -> M:
    """The resource message for a row; ``spec``/``status`` override the row's (decrypted) JSON."""
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
    json_format.ParseDict(row.spec if spec is None else spec, target.spec, ignore_unknown_fields=True)
    status_json = row.status if status is None else status
    if has_status(message_type) and status_json:
        json_format.ParseDict(status_json, target.status, ignore_unknown_fields=True)
    return message


def new_uid() -> uuid.UUID:
    return uuid.uuid4()
