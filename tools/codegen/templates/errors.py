"""The exceptions the SDK raises: one class per gRPC status code, plus waiting failures.

Every error the server returns becomes an :class:`ApiError` subclass chosen by its gRPC code, so
callers can write ``except NotFoundError``. The server puts machine-readable detail into the
``google.rpc.Status`` it sends in the ``grpc-status-details-bin`` trailer; it is decoded here into
``reason`` (from ``google.rpc.ErrorInfo``), ``field_violations`` (from ``google.rpc.BadRequest``)
and ``retry_delay`` (from ``google.rpc.RetryInfo``). Nothing here exits the process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError

# googleapis-common-protos ships .pyi stubs but no py.typed marker, so mypy will not read them.
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from threeport.common.v1alpha1 import condition_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


class ThreeportError(Exception):
    """The base of every exception the SDK raises on purpose."""


@dataclass(frozen=True)
class FieldViolation:
    """One invalid request field: its path (``spec.components.api.image``) and what is wrong."""

    field: str
    description: str
    reason: str = ""


class ApiError(ThreeportError):
    """The server answered with a non-OK gRPC status.

    Attributes:
        code: the gRPC status code.
        message: the server's message for people, unchanged.
        reason: the UPPER_SNAKE ``ErrorInfo.reason`` (see ``ErrorReason``), or ``""``.
        domain: the ``ErrorInfo.domain``, normally ``threeport.io``.
        error_metadata: the ``ErrorInfo.metadata`` map.
        field_violations: the ``BadRequest`` field violations, in the server's order.
        retry_delay: seconds from ``RetryInfo``, when the server suggested a delay.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        reason: str = "",
        domain: str = "",
        error_metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        retry_delay: float | None = None,
        code: grpc.StatusCode | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.error_metadata: dict[str, str] = dict(error_metadata or {})
        self.field_violations: tuple[FieldViolation, ...] = tuple(field_violations)
        self.retry_delay = retry_delay

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}" if self.message else self.code.name
        if self.reason:
            text += f" [{self.reason}]"
        for violation in self.field_violations:
            text += f"\n  {violation.field}: {violation.description}"
        return text


class CancelledError(ApiError):
    code = grpc.StatusCode.CANCELLED


class UnknownError(ApiError):
    code = grpc.StatusCode.UNKNOWN


class InvalidArgumentError(ApiError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceededError(ApiError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFoundError(ApiError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(ApiError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDeniedError(ApiError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhaustedError(ApiError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(ApiError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class AbortedError(ApiError):
    code = grpc.StatusCode.ABORTED


class OutOfRangeError(ApiError):
    code = grpc.StatusCode.OUT_OF_RANGE


class UnimplementedError(ApiError):
    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(ApiError):
    code = grpc.StatusCode.INTERNAL


class UnavailableError(ApiError):
    code = grpc.StatusCode.UNAVAILABLE


class DataLossError(ApiError):
    code = grpc.StatusCode.DATA_LOSS


class UnauthenticatedError(ApiError):
    code = grpc.StatusCode.UNAUTHENTICATED


ERROR_CLASSES: Mapping[grpc.StatusCode, type[ApiError]] = {
    cls.code: cls
    for cls in (
        CancelledError,
        UnknownError,
        InvalidArgumentError,
        DeadlineExceededError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        UnavailableError,
        DataLossError,
        UnauthenticatedError,
    )
}


class WaitError(ThreeportError):
    """Waiting for a resource ended without it becoming ready.

    Attributes:
        name: the resource name waited for.
        conditions: the resource's conditions when waiting ended (empty if never seen).
        state: the resource's ``State`` value when waiting ended (0 if never seen).
    """

    def __init__(
        self,
        message: str,
        *,
        name: str,
        conditions: Iterable[condition_pb2.Condition] = (),
        state: int = 0,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.conditions: tuple[condition_pb2.Condition, ...] = tuple(conditions)
        self.state = state


class WaitTimeoutError(WaitError, TimeoutError):
    """The resource was not ready before the timeout; ``conditions`` are the last ones seen."""


class ResourceFailedError(WaitError):
    """The resource reached a terminal failure (see ``threeport.sdk.readiness``).

    ``reason`` and ``condition_message`` come from the ``Ready`` condition when it has them.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str,
        conditions: Iterable[condition_pb2.Condition] = (),
        state: int = 0,
        reason: str = "",
        condition_message: str = "",
    ) -> None:
        super().__init__(message, name=name, conditions=conditions, state=state)
        self.reason = reason
        self.condition_message = condition_message


@dataclass(frozen=True)
class _StatusDetails:
    reason: str = ""
    domain: str = ""
    error_metadata: Mapping[str, str] = field(default_factory=dict)
    field_violations: tuple[FieldViolation, ...] = ()
    retry_delay: float | None = None


def decode_status_details(blob: bytes) -> _StatusDetails:
    """Reads the detail messages of a serialized ``google.rpc.Status``; unknown ones are skipped."""
    status = status_pb2.Status()
    try:
        status.ParseFromString(blob)
    except DecodeError:
        return _StatusDetails()
    reason = domain = ""
    error_metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry_delay: float | None = None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, domain, error_metadata = info.reason, info.domain, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(
                FieldViolation(field=v.field, description=v.description, reason=v.reason)
                for v in bad_request.field_violations
            )
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry_info = error_details_pb2.RetryInfo()
            detail.Unpack(retry_info)
            retry_delay = retry_info.retry_delay.ToTimedelta().total_seconds()
    return _StatusDetails(reason, domain, error_metadata, tuple(violations), retry_delay)


def _details_blob(trailing_metadata: object) -> bytes:
    # Sync calls give a tuple of pairs, grpc.aio gives a Metadata object; both iterate as pairs.
    if not isinstance(trailing_metadata, Iterable):
        return b""
    for key, value in trailing_metadata:
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            return value
    return b""


def from_rpc_error(error: grpc.RpcError) -> ApiError:
    """Turns a failed gRPC call (sync or ``grpc.aio``) into the matching :class:`ApiError`."""
    # grpc.RpcError declares no methods; failed calls are also grpc.Call / AioRpcError objects.
    code_of = getattr(error, "code", None)
    code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    details_of = getattr(error, "details", None)
    message = details_of() if callable(details_of) else ""
    trailers_of = getattr(error, "trailing_metadata", None)
    details = decode_status_details(_details_blob(trailers_of() if callable(trailers_of) else None))
    error_class = ERROR_CLASSES.get(code, ApiError)
    return error_class(
        str(message or ""),
        reason=details.reason,
        domain=details.domain,
        error_metadata=details.error_metadata,
        field_violations=details.field_violations,
        retry_delay=details.retry_delay,
        code=code,
    )
