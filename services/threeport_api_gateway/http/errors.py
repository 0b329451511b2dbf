"""gRPC statuses as HTTP errors, in the JSON shape of AIP-193.

``{"error": {"code": 404, "status": "NOT_FOUND", "message": "...", "details": [...]}}``, the
details being the same ``google.rpc`` messages (``ErrorInfo``, ``BadRequest``, ``RetryInfo``)
a gRPC client gets, each with its ``@type``. The HTTP status follows ``google/rpc/code.proto``.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import duration_pb2, json_format
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from threeport_runtime.errors import ThreeportError

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
_STATUS_DETAILS = "grpc-status-details-bin"
# The detail types must be in the default pool for their Any values to print as JSON.
_DETAIL_TYPES = (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.RetryInfo)


class HttpError(Exception):
    """An answer that is an error: the HTTP status, the JSON body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body
        self.headers = headers or {}


def from_rpc_error(error: grpc.aio.AioRpcError) -> HttpError:
    """The HTTP form of a gRPC error, keeping its rich details."""
    status = status_pb2.Status(code=error.code().value[0], message=error.details() or "")
    items: Any = error.trailing_metadata() or ()
    for key, value in items:
        if key == _STATUS_DETAILS and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
    return from_status(status)


def from_threeport_error(error: ThreeportError) -> HttpError:
    return from_status(error.to_status())


def from_status(status: status_pb2.Status) -> HttpError:
    code = _BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
    http_status = HTTP_STATUS[code]
    details = [json_format.MessageToDict(detail, descriptor_pool=None) for detail in status.details]
    body = {"error": {"code": http_status, "status": code.name, "message": status.message, "details": details}}
    headers: dict[str, str] = {}
    if code == grpc.StatusCode.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = 'Bearer realm="threeport"'
    retry = _retry_delay(status)
    if retry is not None:
        headers["Retry-After"] = str(max(1, round(retry.ToTimedelta().total_seconds())))
    return HttpError(http_status, body, headers)


def problem(code: grpc.StatusCode, message: str, headers: dict[str, str] | None = None) -> HttpError:
    """An error the HTTP layer finds itself (no such path, wrong method)."""
    http_status = HTTP_STATUS[code]
    body = {"error": {"code": http_status, "status": code.name, "message": message, "details": []}}
    return HttpError(http_status, body, headers)


def _retry_delay(status: status_pb2.Status) -> duration_pb2.Duration | None:
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            delay: duration_pb2.Duration = info.retry_delay
            return delay
    return None
