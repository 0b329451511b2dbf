"""Server interceptors: tracing, request metrics, error mapping and caller identity.

Install them in this order (``server_interceptors``) so that the span covers everything, the
error mapper sees identity failures, and the trace id is known when an unexpected exception is
turned into INTERNAL. Health checks and reflection (non-``threeport.`` services) need no
credential, so probes and grpcurl work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import grpc
from grpc_status import rpc_status
from opentelemetry import context as otel_context
from opentelemetry import trace

from threeport_runtime.errors import ThreeportError, internal_error_status
from threeport_runtime.outages import as_outage
from threeport_runtime.rpc.authorization import authorize, method_policy
from threeport_runtime.rpc.handlers import wrap_handler
from threeport_runtime.rpc.identity import Authenticator, current_caller
from threeport_runtime.rpc.limits import RequestChecksInterceptor
from threeport_runtime.telemetry import context_from_metadata, current_trace_id, meter, tracer

log = logging.getLogger(__name__)

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[Any]]

if TYPE_CHECKING:
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:  # The runtime class is not generic; only the stubs are.
    _ServerInterceptor = grpc.aio.ServerInterceptor
Context = grpc.aio.ServicerContext[Any, Any]


def is_threeport_method(method: str) -> bool:
    return method.startswith("/threeport.")


def text_metadata(context: Context) -> dict[str, str]:
    return {key: value for key, value in (context.invocation_metadata() or ()) if isinstance(value, str)}


class TracingInterceptor(_ServerInterceptor):
    """A SERVER span per call, joined to the caller's trace from the ``traceparent`` header."""

    async def intercept_service(self, continuation: Continuation, details: grpc.HandlerCallDetails) -> Any:
        method = details.method

        @asynccontextmanager
        async def around(_request: Any, context: Context) -> AsyncIterator[None]:
            parent = context_from_metadata(text_metadata(context))
            token = otel_context.attach(parent)
            try:
                with tracer().start_as_current_span(
                    method.lstrip("/"), kind=trace.SpanKind.SERVER, attributes={"rpc.system": "grpc"}
                ):
                    yield
            finally:
                otel_context.detach(token)

        return wrap_handler(await continuation(details), around)


class MetricsInterceptor(_ServerInterceptor):
    """Counts calls and records their latency by method and status code."""

    def __init__(self) -> None:
        instruments = meter()
        self._calls = instruments.create_counter("threeport.rpc.server.calls")
        self._latency = instruments.create_histogram("threeport.rpc.server.duration", unit="s")

    async def intercept_service(self, continuation: Continuation, details: grpc.HandlerCallDetails) -> Any:
        method = details.method

        @asynccontextmanager
        async def around(_request: Any, context: Context) -> AsyncIterator[None]:
            started = time.perf_counter()
            code = "OK"
            try:
                yield
            except BaseException:
                code = _code_name(context.code()) or "UNKNOWN"
                raise
            finally:
                attributes = {"rpc.method": method, "rpc.grpc.status_code": code}
                self._calls.add(1, attributes)
                self._latency.record(time.perf_counter() - started, attributes)

        return wrap_handler(await continuation(details), around)


class ErrorMappingInterceptor(_ServerInterceptor):
    """Turns exceptions into statuses with rich details; never leaks internals to the client.
    A datastore outage is UNAVAILABLE with a retry hint naming ``service``, not INTERNAL."""

    def __init__(self, service: str = "") -> None:
        self._service = service

    async def intercept_service(self, continuation: Continuation, details: grpc.HandlerCallDetails) -> Any:
        method = details.method

        @asynccontextmanager
        async def around(_request: Any, context: Context) -> AsyncIterator[None]:
            try:
                yield
            except grpc.aio.AbortError:
                raise
            except ThreeportError as error:
                await _abort(context, error.to_status())
            except Exception as error:
                outage = as_outage(error, self._service)
                if outage is not None:
                    log.warning("a datastore or a service it calls is unavailable serving %s: %s", method, error)
                    await _abort(context, outage.to_status())
                trace_id = current_trace_id()
                log.exception("unexpected error serving %s", method, extra={"trace_id": trace_id})
                await _abort(context, internal_error_status(trace_id))

        return wrap_handler(await continuation(details), around)


class IdentityInterceptor(_ServerInterceptor):
    """Authenticates the caller, exposes it as ``current_caller`` and enforces method policies."""

    def __init__(self, authenticate: Authenticator, *, enforce_policies: bool = True):
        self._authenticate = authenticate
        self._enforce_policies = enforce_policies

    async def intercept_service(self, continuation: Continuation, details: grpc.HandlerCallDetails) -> Any:
        method = details.method
        handler = await continuation(details)
        if not is_threeport_method(method):
            return handler
        policy = method_policy(method)

        @asynccontextmanager
        async def around(request: Any, context: Context) -> AsyncIterator[None]:
            who = await self._authenticate(text_metadata(context))
            if self._enforce_policies:
                authorize(who, policy, request, method.lstrip("/"))
            token = current_caller.set(who)
            try:
                yield
            finally:
                current_caller.reset(token)

        return wrap_handler(handler, around)


def server_interceptors(authenticate: Authenticator, *, enforce_policies: bool = True, service: str = "") -> list[Any]:
    return [
        TracingInterceptor(),
        MetricsInterceptor(),
        ErrorMappingInterceptor(service),
        RequestChecksInterceptor(),
        IdentityInterceptor(authenticate, enforce_policies=enforce_policies),
    ]


async def _abort(context: Context, status: Any) -> None:
    converted = rpc_status.to_status(status)
    await context.abort(converted.code, converted.details, converted.trailing_metadata)


def _code_name(code: Any) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else ""
