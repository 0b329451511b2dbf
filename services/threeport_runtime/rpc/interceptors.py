"""The one server interceptor of every service: each call passes a single Python layer.

Per call, outermost first: a tracing span (``tracing``) covering everything, request metrics
(``call_metrics``), error mapping (``error_mapping``: a ThreeportError, an outage or a bug becomes
a status), the request checks (``limits.check_request``: size, NUL characters), then the server's
access concern: the backends' ``CallerCheck`` (service credential, method policy, caller) or the
gateway's access check (token, policy, rate limit, audit). Health checks and reflection
(non-``threeport.`` services) get the span, metrics and error mapping but no checks, so probes
and grpcurl work.

One layer instead of one interceptor per concern: grpc.aio runs every interceptor as a coroutine
per call and each wraps the handler anew, so five of them cost measurably on a ~1 ms call
(``tools/bench/gateway.py``). Here the handler is wrapped once per method and each concern is a
plain call or context manager; the concerns themselves stay in their own modules.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import grpc

from threeport_runtime.rpc.call_metrics import CallMetrics
from threeport_runtime.rpc.error_mapping import abort_with
from threeport_runtime.rpc.handlers import Around, wrap_handler
from threeport_runtime.rpc.limits import check_request
from threeport_runtime.rpc.tracing import server_span

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[Any]]

if TYPE_CHECKING:
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:  # The runtime class is not generic; only the stubs are.
    _ServerInterceptor = grpc.aio.ServerInterceptor
Context = grpc.aio.ServicerContext[Any, Any]

# What an access concern runs around one call: (request, context, text metadata). The request is
# None for client streams.
Guard = Callable[[Any, Context, Mapping[str, str]], AbstractAsyncContextManager[None]]


class Access(Protocol):
    """A server's access concern; ``around`` is asked once per method, its guard runs per call."""

    def around(self, method: str) -> Guard: ...


def is_threeport_method(method: str) -> bool:
    return method.startswith("/threeport.")


def text_metadata(context: Context) -> dict[str, str]:
    return {key: value for key, value in (context.invocation_metadata() or ()) if isinstance(value, str)}


class ServerLayer(_ServerInterceptor):
    def __init__(self, access: Access, *, service: str = "") -> None:
        self._access = access
        self._service = service
        self._metrics = CallMetrics()
        # method -> (the handler gRPC found, the same handler inside this layer)
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(self, continuation: Continuation, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = wrap_handler(handler, self._around(method))
        # Only methods with a handler get here, so this holds at most one entry per served method.
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _around(self, method: str) -> Around:
        guard = self._access.around(method) if is_threeport_method(method) else None
        metrics = self._metrics
        service = self._service

        @asynccontextmanager
        async def around(request: Any, context: Context) -> AsyncIterator[None]:
            metadata = text_metadata(context)
            started = time.perf_counter()
            code = "OK"
            with server_span(method, metadata):
                try:
                    try:
                        if guard is None:
                            yield
                        else:
                            check_request(request)
                            async with guard(request, context, metadata):
                                yield
                    except grpc.aio.AbortError:
                        raise
                    except Exception as error:
                        await abort_with(context, error, method, service)
                except BaseException:
                    code = _code_name(context.code()) or "UNKNOWN"
                    raise
                finally:
                    metrics.record(method, code, time.perf_counter() - started)

        return around


def _code_name(code: Any) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else ""
