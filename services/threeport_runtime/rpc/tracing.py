"""The tracing concern of a server call: a SERVER span joined to the caller's trace."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace

from threeport_runtime.telemetry import context_from_metadata, tracer


@contextmanager
def server_span(method: str, metadata: Mapping[str, str]) -> Iterator[None]:
    """A SERVER span named after ``method``, child of the ``traceparent`` in ``metadata``."""
    token = otel_context.attach(context_from_metadata(dict(metadata)))
    try:
        with tracer().start_as_current_span(
            method.lstrip("/"), kind=trace.SpanKind.SERVER, attributes={"rpc.system": "grpc"}
        ):
            yield
    finally:
        otel_context.detach(token)
