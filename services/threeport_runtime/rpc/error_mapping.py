"""The error concern of a server call: exceptions become statuses with rich details.

A ThreeportError becomes its own status; a ``RelayedStatus`` (another service's answer that a
proxy passes on) is sent exactly as received; a datastore outage is UNAVAILABLE with a retry hint
naming the service, not INTERNAL; anything else is INTERNAL with the trace id and nothing of the
exception, which is logged instead. Internals never reach the client.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from grpc_status import rpc_status

from threeport_runtime.errors import ThreeportError, internal_error_status
from threeport_runtime.outages import as_outage
from threeport_runtime.telemetry import current_trace_id

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]


class RelayedStatus(Exception):
    """Another service's error status, to be passed on unchanged: code, details and trailing
    metadata (with its ``grpc-status-details-bin``). Raised rather than aborting on the spot, so
    that what runs around the call (the gateway's audit) finishes before the answer goes out."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: tuple[tuple[str, str | bytes], ...]):
        super().__init__(details)
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


async def abort_with(context: Context, error: Exception, method: str, service: str) -> None:
    """Ends the call with the status ``error`` maps to (``context.abort`` raises AbortError)."""
    if isinstance(error, RelayedStatus):
        await context.abort(error.code, error.details, error.trailing_metadata)
    if isinstance(error, ThreeportError):
        await _abort(context, error.to_status())
    outage = as_outage(error, service)
    if outage is not None:
        log.warning("a datastore or a service it calls is unavailable serving %s: %s", method, error)
        await _abort(context, outage.to_status())
    trace_id = current_trace_id()
    log.exception("unexpected error serving %s", method, extra={"trace_id": trace_id}, exc_info=error)
    await _abort(context, internal_error_status(trace_id))


async def _abort(context: Context, status: Any) -> None:
    converted = rpc_status.to_status(status)
    await context.abort(converted.code, converted.details, converted.trailing_metadata)
