"""When and how long to wait before repeating a failed call.

The rule: only UNAVAILABLE is retried (the request never reached a server that could act on it,
or the server is restarting), and only for calls that are safe to repeat: methods whose policy
says ``idempotent``, and requests that carry a ``request_id`` (the server returns the first
call's result for a repeated id), at most ``max_attempts`` times. Everything else surfaces at
once. Backoff is exponential with full jitter so that many clients do not retry in step.

One more case is retried for every call: RESOURCE_EXHAUSTED carrying a ``RetryInfo``, the
gateway's rate limit. It refused the call before acting on it, so repeating it is always safe,
and it is repeated for as long as the caller is willing to wait rather than a number of times:
until the call's deadline (``timeout``), or for ``throttled_budget`` seconds (one minute by
default) when it has none. Each pause is the delay the server asked for plus a jitter of up to
as much again (at least the growing backoff bound), so callers refused together come back
spread out rather than all at the moment one token is free; jitter that would end past the
deadline is drawn within the time left instead. When the server's delay itself would end past
the deadline or budget, the call waits until then and raises the rate limit's error: a throttled
call fails at its deadline, not before.
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
    """How often and how patiently a safe call is repeated on UNAVAILABLE, and how long a
    throttled call is repeated.

    Attributes:
        max_attempts: calls in total on UNAVAILABLE, including the first; 1 disables those retries.
        initial_backoff: upper bound in seconds of the first pause.
        max_backoff: cap in seconds of any pause's jitter.
        multiplier: growth of the bound per attempt.
        throttled_budget: seconds a throttled call (RESOURCE_EXHAUSTED with a retry delay) is
            repeated when it has no deadline; with one, the deadline decides. 0 disables those
            retries.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    throttled_budget: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.throttled_budget < 0:
            raise ValueError("throttled_budget must not be negative")

    def pauses(self) -> Iterator[float]:
        """The pauses before attempts 2..max_attempts."""
        bound = self.initial_backoff
        for _ in range(self.max_attempts - 1):
            yield random.uniform(0, min(bound, self.max_backoff))
            bound *= self.multiplier

    def throttled_pause(self, retry: int, retry_delay: float) -> float:
        """The pause before repeating a throttled call the ``retry``-th time (from 1): the
        server's delay plus a jitter of up to the larger of that delay and the backoff bound."""
        bound = min(self.initial_backoff * self.multiplier ** min(retry - 1, 64), self.max_backoff)
        return retry_delay + random.uniform(0, max(retry_delay, bound))


NO_RETRY = RetryPolicy(max_attempts=1, throttled_budget=0.0)


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
