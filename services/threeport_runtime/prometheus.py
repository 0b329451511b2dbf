"""Prometheus exposition of the process's OpenTelemetry metrics.

Every instrument the runtime records with OpenTelemetry (RPC calls and latency, reconciles,
queue depth, bus backlog) is also readable in Prometheus text format: ``READER`` is an
OpenTelemetry ``MetricReader`` installed in the meter provider next to the OTLP exporter (when
one is configured), and ``render()`` turns what it collects into Prometheus metric families.
Names follow the OpenTelemetry-to-Prometheus convention: dots become underscores, the unit
``s`` adds ``_seconds``, counters end in ``_total``, attributes become labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    Metric,
    MetricReader,
    MetricsData,
    Sum,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_UNITS = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}


class PrometheusReader(MetricReader):
    """Collects on demand (a scrape), never on a timer."""

    def __init__(self) -> None:
        super().__init__()
        self._latest: MetricsData | None = None

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        self._latest = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._latest = None

    def families(self) -> list[Any]:
        self.collect()
        data = self._latest
        if data is None:
            return []
        metrics = (m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)
        return [family for metric in metrics for family in _families(metric)]


READER = PrometheusReader()


class _Collector(Collector):
    def collect(self) -> Iterator[Any]:
        yield from READER.families()


_REGISTRY = CollectorRegistry(auto_describe=False)
_REGISTRY.register(_Collector())


def render() -> bytes:
    """The current metrics in Prometheus text format."""
    return generate_latest(_REGISTRY)


def _families(metric: Metric) -> Iterable[Any]:
    name = _name(metric.name, metric.unit or "")
    description = metric.description or metric.name
    data = metric.data
    points: list[Any] = list(data.data_points)
    labels = sorted({key for point in points for key in (point.attributes or {})})
    label_names = [_label(key) for key in labels]

    def values(point: Any) -> list[str]:
        attributes = point.attributes or {}
        return [str(attributes.get(key, "")) for key in labels]

    if isinstance(data, Sum) and data.is_monotonic:
        counter = CounterMetricFamily(name, description, labels=label_names)
        for point in points:
            counter.add_metric(values(point), point.value)
        yield counter
    elif isinstance(data, Sum | Gauge):
        gauge = GaugeMetricFamily(name, description, labels=label_names)
        for point in points:
            gauge.add_metric(values(point), point.value)
        yield gauge
    elif isinstance(data, Histogram):
        histogram = HistogramMetricFamily(name, description, labels=label_names)
        for point in points:
            cumulative, buckets = 0, []
            for bound, count in zip([*point.explicit_bounds, float("inf")], point.bucket_counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else _float(bound), cumulative))
            histogram.add_metric(values(point), buckets, point.sum)
        yield histogram


def _name(name: str, unit: str) -> str:
    cleaned = _INVALID.sub("_", name)
    suffix = _UNITS.get(unit, "")
    if suffix and not cleaned.endswith(suffix):
        cleaned = f"{cleaned}_{suffix}"
    return cleaned


def _label(key: str) -> str:
    return _INVALID.sub("_", key)


def _float(value: float) -> str:
    return repr(float(value))
