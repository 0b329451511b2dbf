"""Domain exceptions and their translation into ``google.rpc.Status``.

Servicers, repositories and domain rules raise these; the gRPC error interceptor turns them
into a status code with ``ErrorInfo`` (domain ``threeport.io``, an UPPER_SNAKE reason from
``threeport.common.v1alpha1.ErrorReason``) and, for invalid input, ``BadRequest`` field
violations. Messages are for people: say what was wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2  # type: ignore[import-untyped]

ERROR_DOMAIN = "threeport.io"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field: its path in the request (``application.spec.components``) and why."""

    field: str
    description: str


class ThreeportError(Exception):
    """Base of every error that is safe to show to a caller."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    reason: str = "INTERNAL_ERROR"

    def __init__(self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = dict(metadata or {})

    def to_status(self) -> status_pb2.Status:
        """The rich status sent to the client."""
        status = status_pb2.Status(code=_rpc_code(self.code), message=self.message)
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)
        status.details.append(_pack(info))
        return status


class InvalidArgument(ThreeportError):
    """The request is malformed; nothing was written."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_FIELDS"

    def __init__(
        self,
        message: str,
        violations: Iterable[FieldViolation] = (),
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ):
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations = list(violations)

    @classmethod
    def for_fields(cls, violations: Iterable[FieldViolation]) -> InvalidArgument:
        """Builds the error from its violations, summarising them in the message."""
        found = list(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in found)
        return cls(f"invalid request: {summary}", found)

    def to_status(self) -> status_pb2.Status:
        status = super().to_status()
        if self.violations:
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in self.violations
                ]
            )
            status.details.append(_pack(bad_request))
        return status


class NotFound(ThreeportError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "RESOURCE_NOT_FOUND"


class AlreadyExists(ThreeportError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "RESOURCE_ALREADY_EXISTS"


class Aborted(ThreeportError):
    """A concurrent change won; the caller should re-read and retry."""

    code = grpc.StatusCode.ABORTED
    reason = "ETAG_MISMATCH"


class FailedPrecondition(ThreeportError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "PRECONDITION_FAILED"


class OutOfRange(ThreeportError):
    """A position (a watch's ``resource_version``) the server no longer keeps."""

    code = grpc.StatusCode.OUT_OF_RANGE
    reason = "RESOURCE_VERSION_TOO_OLD"


class PermissionDenied(ThreeportError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class Unauthenticated(ThreeportError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class Unavailable(ThreeportError):
    """Something the call needs is down for now; ``retry_after`` (seconds) becomes
    ``google.rpc.RetryInfo`` so that clients know when to try again."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "BACKEND_UNAVAILABLE"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after = retry_after

    def to_status(self) -> status_pb2.Status:
        status = super().to_status()
        if self.retry_after is not None:
            status.details.append(retry_info(self.retry_after))
        return status


class ResourceExhausted(ThreeportError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RATE_LIMITED"


def internal_error_status(trace_id: str) -> status_pb2.Status:
    """The status for an unexpected failure: no internals, just a trace id to quote."""
    message = f"internal error; quote trace id {trace_id or 'unavailable'} when reporting it"
    status = status_pb2.Status(code=code_pb2.INTERNAL, message=message)
    info = error_details_pb2.ErrorInfo(
        reason="INTERNAL_ERROR", domain=ERROR_DOMAIN, metadata={"trace_id": trace_id} if trace_id else {}
    )
    status.details.append(_pack(info))
    return status


def retry_info(seconds: float) -> any_pb2.Any:
    """``google.rpc.RetryInfo`` saying to retry after ``seconds``, packed for a status."""
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(1, int(seconds * 1e9)))
    return _pack(error_details_pb2.RetryInfo(retry_delay=delay))


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _rpc_code(code: grpc.StatusCode) -> int:
    value: int = code.value[0]
    return value
