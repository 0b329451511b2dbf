"""When and how long to wait before repeating a failed call.

The rule: only UNAVAILABLE is retried (the request never reached a server that could act on it,
or the server is restarting), and only for calls that are safe to repeat: methods whose policy
says ``idempotent``, and requests that carry a ``request_id`` (the server returns the first
call's result for a repeated id). One more case is retried for every call: RESOURCE_EXHAUSTED
carrying a ``RetryInfo`` — a rate limit that refused the call before acting on it and said when
to come back; the pause is at least the delay the server asked for. Everything else surfaces at
once. Backoff is exponential with full jitter so that many clients do not retry in step.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from google.protobuf.message import Message

from .errors import ApiError

REQUEST_ID_FIELD = "request_id"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a safe call is repeated on UNAVAILABLE.

    Attributes:
        max_attempts: calls in total, including the first; 1 disables retries.
        initial_backoff: upper bound in seconds of the first pause.
        max_backoff: cap in seconds of any pause.
        multiplier: growth of the bound per attempt.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def pauses(self) -> Iterator[float]:
        """The pauses before attempts 2..max_attempts."""
        bound = self.initial_backoff
        for _ in range(self.max_attempts - 1):
            yield random.uniform(0, min(bound, self.max_backoff))
            bound *= self.multiplier


NO_RETRY = RetryPolicy(max_attempts=1)


def carries_request_id(request: Message) -> bool:
    field = request.DESCRIPTOR.fields_by_name.get(REQUEST_ID_FIELD)
    return field is not None and bool(getattr(request, REQUEST_ID_FIELD))


def is_safe_to_repeat(request: Message, *, idempotent: bool) -> bool:
    return idempotent or carries_request_id(request)


def should_retry(error: ApiError) -> bool:
    return error.code is grpc.StatusCode.UNAVAILABLE


def is_throttled(error: ApiError) -> bool:
    """A rate limit's refusal: nothing was done, and the server said when to come back."""
    return error.code is grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_delay is not None
