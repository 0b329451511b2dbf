"""Channels for service-to-service calls: the service credential, trace context, and a
default deadline on every call, so that no internal call can hang forever.

``ServiceCalls`` says what such a call carries; ``service_channel`` adds it to every call with
channel interceptors (what services use, through the SDK). A hot path that makes its calls itself
- the gateway's proxy - uses a ``balanced_channel`` without interceptors and ``ServiceCalls``
directly: one client-side layer instead of grpc.aio's interceptor machinery (an extra task and
call details per call).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import trace

from threeport_runtime.rpc.identity import AUTHORIZATION, SERVICE, SERVICE_SCHEME
from threeport_runtime.telemetry import inject_metadata, tracer

if TYPE_CHECKING:
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
else:  # The runtime classes are not generic; only the stubs are.
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor


# A unary call without a deadline of its own gets this one.
DEFAULT_TIMEOUT = 10.0


class ServiceCalls:
    """What every call of ``service_name`` to another service carries: the service credential,
    the service's name, the trace context, a CLIENT span and a default deadline."""

    def __init__(self, service_name: str, credential: str, default_timeout: float | None = DEFAULT_TIMEOUT):
        self._identity = ((AUTHORIZATION, SERVICE_SCHEME + credential), (SERVICE, service_name))
        self.default_timeout = default_timeout

    def metadata(self, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        """``extra`` plus the identity and the current trace context (call inside ``span``)."""
        metadata = [*extra, *self._identity]
        inject_metadata(metadata)
        return metadata

    def timeout(self, timeout: float | None) -> float | None:
        return timeout if timeout is not None else self.default_timeout

    @contextmanager
    def span(self, method: str) -> Iterator[None]:
        """The CLIENT span of a call of ``method``; its duration is the call's."""
        with tracer().start_as_current_span(method.lstrip("/"), kind=trace.SpanKind.CLIENT):
            yield


class _ServiceIdentity:
    """Adds what ``ServiceCalls`` says to a call's details."""

    def __init__(self, service_name: str, credential: str, default_timeout: float | None):
        self._calls = ServiceCalls(service_name, credential, default_timeout)

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        return grpc.aio.ClientCallDetails(
            details.method,
            self._calls.timeout(details.timeout),
            grpc.aio.Metadata(*self._calls.metadata(tuple(details.metadata or ()))),
            details.credentials,
            details.wait_for_ready,
        )


# grpc.aio files an interceptor under the first call type it implements only, so unary and
# streaming calls need an interceptor object each.
class _UnaryServiceCalls(_ServiceIdentity, _UnaryUnary):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        with self._calls.span(_text(details.method)):
            call = await continuation(self._details(details), request)
            await call  # Finish inside the span so its duration is the call's.
            return call


class _StreamingServiceCalls(_ServiceIdentity, _UnaryStream):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(details), request)


# Spread calls over every address the target resolves to (a DNS name with one record per pod,
# e.g. a headless Kubernetes Service, or a list of addresses), and skip any that fails the gRPC
# health check: a replica shutting down reports NOT_SERVING first, so callers move off it
# before it stops. The target is re-resolved when a connection drops, so new pods are found.
LOAD_BALANCING = json.dumps(
    {"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": ""}}
)


# A peer that restarts is back within seconds: reconnect quickly instead of gRPC's default backoff,
# which grows to two minutes and leaves a restarted service unused long after it is up.
RECONNECT = (("grpc.initial_reconnect_backoff_ms", 250), ("grpc.max_reconnect_backoff_ms", 5000))


def channel_target(address: str) -> str:
    """A gRPC target for ``address``: ``host:port``, a gRPC URI (``dns:///name:port``), or several
    ``ip:port`` separated by commas (one channel over all of them)."""
    parts = [part.strip() for part in address.split(",") if part.strip()]
    if len(parts) < 2:
        return address.strip()
    family = "ipv6" if all(part.startswith("[") for part in parts) else "ipv4"
    return f"{family}:{','.join(parts)}"


def balanced_channel(target: str) -> grpc.aio.Channel:
    """An insecure (in-cluster) channel balancing over every healthy replica behind ``target``
    (see ``channel_target``), with nothing added to its calls (see ``ServiceCalls``)."""
    return grpc.aio.insecure_channel(
        channel_target(target), options=[("grpc.service_config", LOAD_BALANCING), *RECONNECT]
    )


def service_channel(
    target: str, *, service_name: str, credential: str, default_timeout: float = DEFAULT_TIMEOUT
) -> grpc.aio.Channel:
    """An insecure (in-cluster) channel that authenticates as ``service:<service_name>`` and
    balances over every healthy replica behind ``target`` (see ``channel_target``).

    Unary calls get ``default_timeout`` when the caller sets none; streams (Watch) do not, as
    they are meant to stay open.
    """
    interceptors: list[Any] = [
        _UnaryServiceCalls(service_name, credential, default_timeout),
        _StreamingServiceCalls(service_name, credential, None),
    ]
    return grpc.aio.insecure_channel(
        channel_target(target), interceptors=interceptors, options=[("grpc.service_config", LOAD_BALANCING), *RECONNECT]
    )


def _text(method: str | bytes) -> str:
    return method.decode() if isinstance(method, bytes) else method
