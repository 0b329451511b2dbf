"""Wraps a gRPC method handler's behaviour in an async context, for every RPC shape.

Each server interceptor describes what to do *around* a call as an async context manager
factory; this module applies it to unary and streaming handlers alike, so the interceptors
themselves stay small.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc

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

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            async with around(request, context):
                async for response in _responses(inner_us(request, context)):
                    yield response

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

    async def stream_stream(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        async with around(None, context):
            async for response in _responses(inner_ss(requests, context)):
                yield response

    return grpc.stream_stream_rpc_method_handler(
        stream_stream, handler.request_deserializer, handler.response_serializer
    )


async def _responses(result: Any) -> AsyncIterator[Any]:
    # Streaming servicers are either async generators or coroutines that call context.write().
    if hasattr(result, "__aiter__"):
        async for response in result:
            yield response
    else:
        await result
