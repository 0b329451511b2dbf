"""The gateway's access check around every Threeport RPC, local or proxied.

Order per call: authenticate the bearer token, decode just enough of the request to find its
project (proxied requests arrive as raw bytes), refuse internal and unannotated methods,
authorize with the runtime's policy rules, take a rate-limit token, then run the call with the
caller in ``current_caller``. Denials (UNAUTHENTICATED, PERMISSION_DENIED) and every call of a
``mutating`` method are written to the audit log before the answer goes out.

It runs inside the runtime's tracing, metrics and error-mapping interceptors, so trace ids exist
here and the ThreeportErrors raised here reach the caller with their rich details.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError, Message

from threeport_api_gateway.access.errors import RateLimited
from threeport_api_gateway.access.methods import MethodInfo, MethodTable
from threeport_api_gateway.access.targets import describe
from threeport_api_gateway.domain.ratelimit import RateLimiter
from threeport_api_gateway.http import bridge
from threeport_api_gateway.store.audit import AuditLog, AuditRecord
from threeport_runtime.errors import InvalidArgument, PermissionDenied, ThreeportError, Unauthenticated
from threeport_runtime.rpc.authorization import authorize
from threeport_runtime.rpc.handlers import wrap_handler
from threeport_runtime.rpc.identity import Authenticator, Caller, current_caller
from threeport_runtime.rpc.interceptors import Continuation, is_threeport_method, text_metadata
from threeport_runtime.telemetry import current_trace_id

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]

if TYPE_CHECKING:
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:  # Only the type stubs make it generic.
    _ServerInterceptor = grpc.aio.ServerInterceptor


@dataclass
class Outcome:
    """How a call ended, for the audit log; the proxy fills it in when it relays an error."""

    code: str = "OK"
    message: str = ""


current_outcome: contextvars.ContextVar[Outcome | None] = contextvars.ContextVar(
    "threeport_gateway_outcome", default=None
)


class AccessInterceptor(_ServerInterceptor):
    def __init__(
        self,
        methods: MethodTable,
        authenticate: Authenticator,
        limiter: RateLimiter,
        audit: AuditLog,
        bridge_secret: str = "",
    ):
        self._methods = methods
        self._bridge_secret = bridge_secret
        self._authenticate = authenticate
        self._limiter = limiter
        self._audit = audit
        self._pending_audits: set[asyncio.Task[None]] = set()

    async def intercept_service(self, continuation: Continuation, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or not is_threeport_method(method):
            return handler
        info = self._methods.get(method)

        @asynccontextmanager
        async def around(request: Any, context: Context) -> AsyncIterator[None]:
            async with self._guard(method, info, request, context):
                yield

        return wrap_handler(handler, around)

    async def drain(self) -> None:
        """Waits for audit writes still in flight (their calls were cancelled)."""
        while self._pending_audits:
            await asyncio.gather(*self._pending_audits, return_exceptions=True)

    @asynccontextmanager
    async def _guard(self, method: str, info: MethodInfo | None, request: Any, context: Context) -> AsyncIterator[None]:
        metadata = text_metadata(context)
        peer = bridge.peer(metadata, context.peer() or "", self._bridge_secret)
        draft = _Draft(method=method, peer=peer, trace_id=current_trace_id())
        try:
            caller = await self._authenticate(metadata)
            draft.principal = caller.principal
            message = _decode(info, request)
            draft.request = message
            _authorize(method, info, caller, message)
        except (Unauthenticated, PermissionDenied) as denial:
            await self._record(draft.finish(False, denial.code.name, denial.message))
            raise
        retry_after = self._limiter.acquire(caller.principal)
        if retry_after > 0:
            log.info("rate limited", extra={"principal": caller.principal, "method": method})
            raise RateLimited(caller.principal, retry_after)
        outcome = Outcome()
        caller_token = current_caller.set(caller)
        outcome_token = current_outcome.set(outcome)
        try:
            yield
        except ThreeportError as error:
            outcome.code, outcome.message = error.code.name, error.message
            raise
        except grpc.aio.AbortError:
            if outcome.code == "OK":
                outcome.code = _code_name(context.code())
            raise
        except asyncio.CancelledError:
            outcome.code, outcome.message = "CANCELLED", "the caller cancelled the call"
            raise
        except Exception:
            outcome.code, outcome.message = "INTERNAL", "internal error"
            raise
        finally:
            current_outcome.reset(outcome_token)
            current_caller.reset(caller_token)
            if info is not None and info.mutating:
                await self._record(draft.finish(True, outcome.code, outcome.message))

    async def _record(self, record: AuditRecord) -> None:
        # Shielded: a caller hanging up must not erase the record of what it did.
        task = asyncio.create_task(self._append(record))
        self._pending_audits.add(task)
        task.add_done_callback(self._pending_audits.discard)
        await asyncio.shield(task)

    async def _append(self, record: AuditRecord) -> None:
        try:
            await self._audit.append(record)
        except Exception:
            log.exception("could not write an audit entry", extra={"audit": record.__dict__})


@dataclass
class _Draft:
    method: str
    peer: str
    trace_id: str
    principal: str = ""
    # Described only when an entry is written: most calls are reads that are never audited.
    request: Message | None = None

    def finish(self, allowed: bool, code: str, message: str) -> AuditRecord:
        target = describe(self.request)
        return AuditRecord(
            principal=self.principal,
            method=self.method,
            resource=target.resource,
            project=target.project,
            allowed=allowed,
            code=code or "UNKNOWN",
            message=message,
            trace_id=self.trace_id,
            peer=self.peer,
        )


def _decode(info: MethodInfo | None, request: Any) -> Message | None:
    """The request as a message: local servicers get one, proxied calls raw bytes."""
    if info is None or request is None:
        return None
    if isinstance(request, bytes):
        try:
            return info.request_type.FromString(request)
        except DecodeError:
            raise InvalidArgument(f"the request is not a valid {info.request_type.DESCRIPTOR.full_name}") from None
    decoded: Message = request
    return decoded


def _authorize(method: str, info: MethodInfo | None, caller: Caller, message: Message | None) -> None:
    name = method.lstrip("/")
    if info is None or info.policy is None:
        raise PermissionDenied(f"{name} has no access policy, so the gateway refuses it")
    if info.internal:
        raise PermissionDenied(
            f"{name} is internal to Threeport services and is not served by the API gateway; "
            "services call it directly with the service credential"
        )
    authorize(caller, info.policy, message, name)


def _code_name(code: Any) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
