"""JSON logging that carries the current trace id and resource name on every line.

The resource a line is about is held in a context variable (set by the controller around each
reconcile and by servicers when they like), so callers need not repeat it in every log call.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

current_resource: contextvars.ContextVar[str] = contextvars.ContextVar("threeport_resource", default="")

_STANDARD_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@contextmanager
def resource_context(name: str) -> Iterator[None]:
    """Tags every log line inside the block with ``resource=name``."""
    token = current_resource.set(name)
    try:
        yield
    finally:
        current_resource.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace_id, resource and extras."""

    def __init__(self, service: str):
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        resource = current_resource.get()
        if resource:
            entry["resource"] = resource
        for key, value in vars(record).items():
            if key not in _STANDARD_RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            # Stack traces belong in our logs, never in responses to clients.
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Routes the root logger to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
