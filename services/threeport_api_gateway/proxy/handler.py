"""A generic gRPC handler that forwards public RPCs to their backend as raw bytes.

Requests and responses are never re-encoded: the handler has no (de)serializers, so the bytes
the client sent are the bytes the backend receives, and the other way round. The access
check decodes a copy of the request only to authorize it. The caller's identity travels
as ``x-threeport-principal`` and ``x-threeport-roles`` next to the service credential, which
backends require before they honour those headers. The caller's remaining deadline is passed
on, cancelling the client call cancels the backend call, and a backend's error - code, message
and trailing metadata with its ``google.rpc.Status`` details - is relayed unchanged (raised as
``RelayedStatus``, so the access check's audit entry is written before the answer goes out). A call that
finds no connection to its backend (one restarting in a rolling update, or replaced by
``tptctl up``) waits a few seconds for one before it is refused as UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc

from threeport_api_gateway.access.methods import MethodInfo, MethodTable
from threeport_api_gateway.config import LOCAL_DOMAIN
from threeport_api_gateway.proxy.backends import STREAM_DEFAULT_TIMEOUT, Backends, BackendUnavailable
from threeport_runtime.rpc.error_mapping import RelayedStatus
from threeport_runtime.rpc.identity import PRINCIPAL, ROLES, caller, format_grants

Context = grpc.aio.ServicerContext[Any, Any]
_STATUS_DETAILS = "grpc-status-details-bin"
# How long a call waits for a backend with no healthy connection: long enough for a restarted
# process to be serving again, short enough that a backend that is down is reported promptly.
BACKEND_READY_WAIT = 5.0

if TYPE_CHECKING:
    _GenericRpcHandler = grpc.GenericRpcHandler[Any, Any]
else:  # Only the type stubs make it generic.
    _GenericRpcHandler = grpc.GenericRpcHandler


class ProxyHandler(_GenericRpcHandler):
    def __init__(self, methods: MethodTable, backends: Backends):
        self._methods = methods
        self._backends = backends
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        cached = self._handlers.get(method)
        if cached is not None:
            return cached
        info = self._methods.get(method)
        # Unknown methods get UNIMPLEMENTED from gRPC; client streams have no public use.
        if info is None or info.domain == LOCAL_DOMAIN or info.client_streaming:
            return None
        handler = self._handlers[method] = self._build(info)
        return handler

    def _build(self, info: MethodInfo) -> grpc.RpcMethodHandler[Any, Any]:
        if info.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self._streaming(info))
        return grpc.unary_unary_rpc_method_handler(self._unary(info))

    def _unary(self, info: MethodInfo) -> Callable[[bytes, Context], Any]:
        backends = self._backends
        multicallables: dict[int, Any] = {}

        async def forward(request: bytes, context: Context) -> bytes:
            channel = backends.channel(info.domain)
            call = multicallables.get(id(channel))
            if call is None:
                call = multicallables[id(channel)] = channel.unary_unary(info.path, None, None)
            await _connected(channel, context.time_remaining())
            calls = backends.calls
            try:
                with calls.span(info.path):
                    response: bytes = await call(
                        request, metadata=calls.metadata(_identity()), timeout=calls.timeout(context.time_remaining())
                    )
            except grpc.aio.AioRpcError as error:
                raise _relayed(info, backends, error) from None
            return response

        return forward

    def _streaming(self, info: MethodInfo) -> Callable[[bytes, Context], AsyncIterator[bytes]]:
        backends = self._backends
        multicallables: dict[int, Any] = {}

        async def forward(request: bytes, context: Context) -> AsyncIterator[bytes]:
            channel = backends.channel(info.domain)
            stream = multicallables.get(id(channel))
            if stream is None:
                stream = multicallables[id(channel)] = channel.unary_stream(info.path, None, None)
            remaining = context.time_remaining()
            await _connected(channel, remaining)
            call = stream(
                request, metadata=backends.calls.metadata(_identity()), timeout=remaining or STREAM_DEFAULT_TIMEOUT
            )
            try:
                async for response in call:
                    yield response
            except grpc.aio.AioRpcError as error:
                raise _relayed(info, backends, error) from None
            finally:
                # The client went away or the stream ended: either way the backend call is done.
                call.cancel()

        return forward


async def _connected(channel: grpc.aio.Channel, remaining: float | None) -> None:
    """Waits (briefly) until ``channel`` has a healthy backend; a call that still finds none
    fails as it would have, so this never turns an outage into a hang."""
    if channel.get_state(try_to_connect=True) is grpc.ChannelConnectivity.READY:
        return
    wait = BACKEND_READY_WAIT if remaining is None else min(BACKEND_READY_WAIT, remaining)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(channel.channel_ready(), wait)


def _identity() -> tuple[tuple[str, str], ...]:
    who = caller()
    return ((PRINCIPAL, who.principal), (ROLES, format_grants(who.grants)))


def _relayed(info: MethodInfo, backends: Backends, error: grpc.aio.AioRpcError) -> Exception:
    """What to answer for a backend call that failed: the backend's own status, unchanged, or
    BACKEND_UNAVAILABLE when the call never reached it."""
    # grpc-stubs types metadata items loosely; at runtime they are (key, value) pairs.
    items: Any = error.trailing_metadata() or ()
    trailing: tuple[tuple[str, str | bytes], ...] = tuple((str(k), v) for k, v in items)
    code = error.code()
    sent_by_backend = any(key == _STATUS_DETAILS for key, _ in trailing)
    if code == grpc.StatusCode.UNAVAILABLE and not sent_by_backend:
        # A transport failure (nothing listening, connection reset), not the backend's answer.
        backend = backends.backend(info.domain)
        return BackendUnavailable(backend, f"is not reachable at {backends.address(info.domain)}")
    return RelayedStatus(code, error.details() or "", trailing)
