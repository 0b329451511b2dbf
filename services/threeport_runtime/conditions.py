"""Condition helpers and the derivation of ``state`` and ``reconciling`` from conditions.

Conventions (Kubernetes style): ``Ready`` says whether the current generation converged;
``Stalled`` TRUE says a controller gave up on the current generation (a terminal error that
needs a user change). ``last_transition_time`` moves only when a condition's status flips.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from threeport.common.v1alpha1 import condition_pb2, state_pb2

READY = "Ready"
STALLED = "Stalled"

TRUE = condition_pb2.CONDITION_STATUS_TRUE
FALSE = condition_pb2.CONDITION_STATUS_FALSE
UNKNOWN = condition_pb2.CONDITION_STATUS_UNKNOWN


def find_condition(
    conditions: Sequence[condition_pb2.Condition], condition_type: str
) -> condition_pb2.Condition | None:
    for condition in conditions:
        if condition.type == condition_type:
            return condition
    return None


def set_condition(
    conditions: MutableSequence[condition_pb2.Condition],
    condition_type: str,
    status: bool | condition_pb2.ConditionStatus.ValueType,
    *,
    reason: str,
    message: str = "",
    observed_generation: int,
    now: datetime | None = None,
) -> bool:
    """Sets one condition in place; returns True when anything about it changed."""
    if isinstance(status, bool):
        status = TRUE if status else FALSE
    existing = find_condition(conditions, condition_type)
    if existing is None:
        transition = Timestamp()
        transition.FromDatetime(now or datetime.now(UTC))
        conditions.append(
            condition_pb2.Condition(
                type=condition_type,
                status=status,
                reason=reason,
                message=message,
                observed_generation=observed_generation,
                last_transition_time=transition,
            )
        )
        return True
    changed = (existing.status, existing.reason, existing.message, existing.observed_generation) != (
        status,
        reason,
        message,
        observed_generation,
    )
    if existing.status != status:
        existing.last_transition_time.FromDatetime(now or datetime.now(UTC))
    existing.status = status
    existing.reason = reason
    existing.message = message
    existing.observed_generation = observed_generation
    return changed


def remove_condition(conditions: MutableSequence[condition_pb2.Condition], condition_type: str) -> bool:
    for index, condition in enumerate(conditions):
        if condition.type == condition_type:
            del conditions[index]
            return True
    return False


def is_ready(conditions: Sequence[condition_pb2.Condition], generation: int) -> bool:
    """True when ``Ready`` is TRUE for exactly this generation (what clients wait for)."""
    ready = find_condition(conditions, READY)
    return ready is not None and ready.status == TRUE and ready.observed_generation == generation


def derive_state(
    conditions: Sequence[condition_pb2.Condition], generation: int, *, deleting: bool
) -> state_pb2.State.ValueType:
    """The summary state shown to people and used in filters."""
    if deleting:
        return state_pb2.STATE_DELETING
    stalled = find_condition(conditions, STALLED)
    if stalled is not None and stalled.status == TRUE and stalled.observed_generation == generation:
        return state_pb2.STATE_FAILED
    if is_ready(conditions, generation):
        return state_pb2.STATE_READY
    if any(c.observed_generation == generation for c in conditions):
        return state_pb2.STATE_RECONCILING
    return state_pb2.STATE_PENDING


def is_reconciling(state: state_pb2.State.ValueType) -> bool:
    """Controllers still have work to do unless the resource is READY or FAILED."""
    return state not in (state_pb2.STATE_READY, state_pb2.STATE_FAILED)


def state_label(state: state_pb2.State.ValueType) -> str:
    """The short form stored in the ``state`` column and used in filters: ``READY``."""
    name: str = state_pb2.State.Name(state)
    return name.removeprefix("STATE_")


def state_from_label(label: str) -> state_pb2.State.ValueType:
    return state_pb2.State.Value("STATE_" + label.upper().removeprefix("STATE_"))
