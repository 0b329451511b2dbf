"""One error taxonomy for every call to a Kubernetes API server.

Callers branch on the class, never on HTTP codes: ``Unreachable`` (no answer: refused, reset,
timed out; ``TLSFailure`` when the server's identity or ours cannot be established),
``Unauthorized`` (401: the credentials are not accepted; a pool rebuilds the client),
``Forbidden`` (403), ``NotFound`` (404, or a kind the server does not serve), ``Conflict``
(409: a resourceVersion or field-ownership conflict), ``Invalid`` (400/422: the object is
refused) and ``ServerError`` (anything else, e.g. 5xx). Messages are safe to show: they name the
server and the object, never a credential.
"""

from __future__ import annotations

from typing import Any, ClassVar


class KubeError(Exception):
    """A call to a cluster's API server failed. ``kind`` names the class for conditions and logs."""

    kind: ClassVar[str] = "error"

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.message = message
        self.status = status


class Unreachable(KubeError):
    kind = "unreachable"


class TLSFailure(Unreachable):
    kind = "tls"


class Forbidden(KubeError):
    kind = "forbidden"


class Unauthorized(Forbidden):
    kind = "unauthorized"


class NotFound(KubeError):
    kind = "not_found"


class Conflict(KubeError):
    kind = "conflict"


class Invalid(KubeError):
    kind = "invalid"


class ServerError(KubeError):
    kind = "error"


class NotReady(KubeError):
    """``wait_ready`` gave up: the message says what the object still waits for."""

    kind = "not_ready"


_BY_STATUS: dict[int, type[KubeError]] = {
    400: Invalid,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Invalid,
}


def from_response(what: str, server: str, status: int, body: Any) -> KubeError:
    """The error for an HTTP error answer; ``body`` is the decoded ``Status`` when there is one."""
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("message") or body.get("reason") or "")
    error_type = _BY_STATUS.get(status, ServerError)
    message = f"{what}: {server} answered {status}"
    if detail:
        message += f": {detail}"
    return error_type(message, status)
