"""Wraps a gRPC method handler's behaviour in an async context, for every RPC shape.

The server's interceptor layer (``interceptors.ServerLayer``) describes what to do *around* a
call as an async context manager factory; this module applies it to unary and streaming handlers
alike, once per method, so the layer itself stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc
from grpc._cython.cygrpc import ExecuteBatchError  # type: ignore[import-not-found]  # a write to a finished call

Around = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AbstractAsyncContextManager[None]]


def wrap_handler(handler: grpc.RpcMethodHandler[Any, Any] | None, around: Around) -> Any:
    """A handler like ``handler`` whose behaviour runs inside ``around(request, context)``."""
    if handler is None:
        return None
    if handler.unary_unary is not None:
        inner_uu: Any = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with around(request, context):
                return await inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream is not None:
        inner_us: Any = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            async with around(request, context):
                await _write_all(inner_us(request, context), context)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary is not None:
        inner_su: Any = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with around(None, context):
                return await inner_su(requests, context)

        return grpc.stream_unary_rpc_method_handler(
            stream_unary, handler.request_deserializer, handler.response_serializer
        )
    inner_ss: Any = handler.stream_stream
    assert inner_ss is not None

    async def stream_stream(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        async with around(None, context):
            await _write_all(inner_ss(requests, context), context)

    return grpc.stream_stream_rpc_method_handler(
        stream_stream, handler.request_deserializer, handler.response_serializer
    )


async def _write_all(result: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    """Sends a streaming servicer's responses with ``context.write`` from the handler's own task.

    Streaming servicers are either async generators or coroutines that call context.write().
    The wrapper is a coroutine, not an async generator: when the client goes away gRPC cancels
    this task (or a write fails because the call is over, which ends it the same way), so
    ``around`` exits here, in the context it entered (resetting its context variables), and the
    servicer's generator is closed here too. An async generator would be finalized later in
    another task, where those resets fail and log errors for what is only a client leaving."""
    if not hasattr(result, "__aiter__"):
        await result
        return
    async with contextlib.aclosing(result):
        async for response in result:
            try:
                await context.write(response)
            except ExecuteBatchError as error:
                # The call is over (the client left between two responses); gRPC itself ignores
                # this failure then. End as its own cancellation does, not as a server error.
                raise asyncio.CancelledError("the client went away") from error
