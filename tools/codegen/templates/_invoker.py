"""Makes one RPC the SDK way: request ids filled in, metadata merged, safe retries, typed errors.

Generated sub-clients hold an :class:`Invoker` (or :class:`AsyncInvoker`) and call it with the
method path and message classes, so all behaviour lives here once, not in every method.

Timeouts: ``timeout`` bounds the whole call including retries; each attempt gets what is left.
A throttled call is repeated until then (or ``RetryPolicy.throttled_budget`` without a timeout)
and fails then with the rate limit's error (``_retry``). Streams are retried only when they fail
before delivering anything, because a repeated stream would deliver its first messages twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, TypeVar, cast

import grpc
import grpc.aio
from google.protobuf.message import Message

from ._channel import Metadata
from ._requests import with_request_id
from ._retry import RetryPolicy, is_safe_to_repeat, is_throttled, should_retry
from .errors import ApiError, from_rpc_error

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)
ItemT = TypeVar("ItemT", bound=Message)

PAGE_TOKEN_FIELD = "page_token"
NEXT_PAGE_TOKEN_FIELD = "next_page_token"


class _CallPlan:
    """The per-call decisions shared by the sync and async invokers."""

    def __init__(
        self,
        request: Message,
        *,
        idempotent: bool,
        timeout: float | None,
        auto_request_id: bool,
        retry: RetryPolicy,
    ) -> None:
        self.request = with_request_id(request) if auto_request_id else request
        self.retryable = is_safe_to_repeat(self.request, idempotent=idempotent)
        started = time.monotonic()
        self.deadline = None if timeout is None else started + timeout
        self.pauses = retry.pauses() if self.retryable else iter(())
        # A throttled call was refused before anything happened, so any call may be repeated,
        # until its deadline or, without one, for the policy's budget.
        self.retry = retry
        self.throttled_until = self.deadline if self.deadline is not None else started + retry.throttled_budget
        self.throttled = 0

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def next_pause(self, error: ApiError) -> tuple[float, bool]:
        """The pause before trying again, and whether ``error`` is raised after it instead (the
        pause is then what is left until a throttled call's deadline, maybe 0)."""
        if is_throttled(error):
            self.throttled += 1
            delay = error.retry_delay or 0.0
            left = max(0.0, self.throttled_until - time.monotonic())
            if delay >= left:
                # The server says no try before the deadline or budget would pass: wait out
                # what is left (the caller was willing to), then report the refusal.
                return left, True
            pause = self.retry.throttled_pause(self.throttled, delay)
            # Jitter that would end past the deadline is drawn again within the time left,
            # keeping half of what the server's delay leaves for the try itself.
            latest = delay + (left - delay) / 2
            return (pause if pause <= latest else random.uniform(delay, latest)), False
        backoff = next(self.pauses, None) if should_retry(error) else None
        remaining = self.remaining()
        if backoff is None or (remaining is not None and backoff >= remaining):
            return 0.0, True
        return backoff, False


def _merge_metadata(base: tuple[tuple[str, str], ...], extra: Metadata | None) -> tuple[tuple[str, str], ...]:
    return base + tuple((key.lower(), value) for key, value in extra or ())


def _next_page(request: RequestT, token: str) -> RequestT:
    following = type(request)()
    following.CopyFrom(request)
    setattr(following, PAGE_TOKEN_FIELD, token)
    return following


class Invoker:
    """Calls methods over a synchronous ``grpc.Channel``."""

    def __init__(
        self,
        channel: grpc.Channel,
        *,
        metadata: tuple[tuple[str, str], ...],
        retry: RetryPolicy,
        auto_request_id: bool,
    ) -> None:
        self.channel = channel
        self.metadata = metadata
        self.retry = retry
        self.auto_request_id = auto_request_id

    def _plan(self, request: Message, idempotent: bool, timeout: float | None) -> _CallPlan:
        return _CallPlan(
            request,
            idempotent=idempotent,
            timeout=timeout,
            auto_request_id=self.auto_request_id,
            retry=self.retry,
        )

    def unary(
        self,
        method: str,
        request: RequestT,
        response_type: type[ResponseT],
        *,
        idempotent: bool,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> ResponseT:
        call = self.channel.unary_unary(
            method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        plan = self._plan(request, idempotent, timeout)
        sent = _merge_metadata(self.metadata, metadata)
        while True:
            try:
                return cast(ResponseT, call(plan.request, timeout=plan.remaining(), metadata=sent))
            except grpc.RpcError as failure:
                error = from_rpc_error(failure)
                pause, surface = plan.next_pause(error)
            if pause > 0 or not surface:
                time.sleep(pause)
            if surface:
                raise error from None

    def stream(
        self,
        method: str,
        request: RequestT,
        response_type: type[ResponseT],
        *,
        idempotent: bool,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Iterator[ResponseT]:
        call = self.channel.unary_stream(
            method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        plan = self._plan(request, idempotent, timeout)
        sent = _merge_metadata(self.metadata, metadata)
        while True:
            delivered = False
            responses: Any = call(plan.request, timeout=plan.remaining(), metadata=sent)
            try:
                for response in responses:
                    delivered = True
                    yield cast(ResponseT, response)
                return
            except grpc.RpcError as failure:
                error = from_rpc_error(failure)
                pause, surface = (0.0, True) if delivered else plan.next_pause(error)
            finally:
                # Stops the server-side stream when the caller leaves the loop early.
                responses.cancel()
            if pause > 0 or not surface:
                time.sleep(pause)
            if surface:
                raise error from None

    def paginate(
        self,
        method: str,
        request: RequestT,
        response_type: type[Message],
        item_type: type[ItemT],
        items_field: str,
        *,
        idempotent: bool,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Iterator[ItemT]:
        """Yields the items of every page, asking for the next page with its token."""
        page_request = request
        while True:
            page = self.unary(
                method, page_request, response_type, idempotent=idempotent, timeout=timeout, metadata=metadata
            )
            yield from cast(list[ItemT], getattr(page, items_field))
            token = cast(str, getattr(page, NEXT_PAGE_TOKEN_FIELD))
            if not token:
                return
            page_request = _next_page(page_request, token)


class AsyncInvoker:
    """Calls methods over a ``grpc.aio.Channel``."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        metadata: tuple[tuple[str, str], ...],
        retry: RetryPolicy,
        auto_request_id: bool,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.channel = channel
        self.metadata = metadata
        self.retry = retry
        self.auto_request_id = auto_request_id
        self._sleep = sleep

    def _plan(self, request: Message, idempotent: bool, timeout: float | None) -> _CallPlan:
        return _CallPlan(
            request,
            idempotent=idempotent,
            timeout=timeout,
            auto_request_id=self.auto_request_id,
            retry=self.retry,
        )

    async def unary(
        self,
        method: str,
        request: RequestT,
        response_type: type[ResponseT],
        *,
        idempotent: bool,
        timeout: float | None = None,  # noqa: ASYNC109 (sent to the server as the deadline)
        metadata: Metadata | None = None,
    ) -> ResponseT:
        call = self.channel.unary_unary(
            method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        plan = self._plan(request, idempotent, timeout)
        sent = _merge_metadata(self.metadata, metadata)
        while True:
            try:
                return cast(ResponseT, await call(plan.request, timeout=plan.remaining(), metadata=sent))
            except grpc.RpcError as failure:
                error = from_rpc_error(failure)
                pause, surface = plan.next_pause(error)
            if pause > 0 or not surface:
                await self._sleep(pause)
            if surface:
                raise error from None

    async def stream(
        self,
        method: str,
        request: RequestT,
        response_type: type[ResponseT],
        *,
        idempotent: bool,
        timeout: float | None = None,  # noqa: ASYNC109 (sent to the server as the deadline)
        metadata: Metadata | None = None,
    ) -> AsyncGenerator[ResponseT, None]:
        call = self.channel.unary_stream(
            method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        plan = self._plan(request, idempotent, timeout)
        sent = _merge_metadata(self.metadata, metadata)
        while True:
            delivered = False
            responses: Any = call(plan.request, timeout=plan.remaining(), metadata=sent)
            try:
                async for response in responses:
                    delivered = True
                    yield cast(ResponseT, response)
                return
            except grpc.RpcError as failure:
                error = from_rpc_error(failure)
                pause, surface = (0.0, True) if delivered else plan.next_pause(error)
            finally:
                responses.cancel()
            if pause > 0 or not surface:
                await self._sleep(pause)
            if surface:
                raise error from None

    async def paginate(
        self,
        method: str,
        request: RequestT,
        response_type: type[Message],
        item_type: type[ItemT],
        items_field: str,
        *,
        idempotent: bool,
        timeout: float | None = None,  # noqa: ASYNC109 (sent to the server as the deadline)
        metadata: Metadata | None = None,
    ) -> AsyncGenerator[ItemT, None]:
        """Yields the items of every page, asking for the next page with its token."""
        page_request = request
        while True:
            page = await self.unary(
                method, page_request, response_type, idempotent=idempotent, timeout=timeout, metadata=metadata
            )
            for item in cast(list[ItemT], getattr(page, items_field)):
                yield item
            token = cast(str, getattr(page, NEXT_PAGE_TOKEN_FIELD))
            if not token:
                return
            page_request = _next_page(page_request, token)
