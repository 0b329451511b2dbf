"""OpenTelemetry set-up and W3C trace-context helpers.

Traces and metrics are exported over OTLP when ``THREEPORT_OTLP_ENDPOINT`` is set; metrics are
also always readable in Prometheus format (``threeport_runtime.prometheus``, served on the
metrics port). Without an
endpoint an SDK tracer provider still runs with no exporter, so that trace ids exist for logs,
for stream messages (``ChangeEvent.traceparent``) and for INTERNAL error messages.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

INSTRUMENTATION_NAME = "threeport_runtime"

_propagator = TraceContextTextMapPropagator()
_configured = False


def configure_telemetry(service: str, otlp_endpoint: str = "") -> None:
    """Installs global tracer and meter providers once per process."""
    global _configured
    if _configured:
        return
    _configured = True
    resource = Resource.create({"service.name": f"threeport-{service}"})
    tracer_provider = TracerProvider(resource=resource)
    # Imported here: the Prometheus reader is part of every process, scraped or not.
    from threeport_runtime.prometheus import READER

    readers: list[MetricReader] = [READER]
    if otlp_endpoint:
        # Imported lazily: the exporter pulls in a gRPC channel we do not want when off.
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


def tracer() -> trace.Tracer:
    return trace.get_tracer(INSTRUMENTATION_NAME)


def meter() -> metrics.Meter:
    return metrics.get_meter(INSTRUMENTATION_NAME)


def current_traceparent() -> str:
    """The W3C ``traceparent`` of the active span, or an empty string outside any trace."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent", "")


def context_from_traceparent(traceparent: str) -> otel_context.Context | None:
    """The remote parent context a stream message carried, if any."""
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


def context_from_metadata(metadata: dict[str, str]) -> otel_context.Context:
    """The parent context from incoming gRPC metadata."""
    return _propagator.extract(metadata)


def inject_metadata(metadata: list[tuple[str, str]]) -> None:
    """Adds the active trace context to outgoing gRPC metadata."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    metadata.extend(carrier.items())


def current_trace_id() -> str:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""
