"""The gateway's access check around every Threeport RPC, local or proxied.

Order per call: authenticate the bearer token, decode just enough of the request to find its
project (proxied requests arrive as raw bytes), refuse internal and unannotated methods,
authorize with the runtime's policy rules, take a rate-limit token, check that a change names a
live project (``ProjectGuard``), then run the call with the caller in ``current_caller``; a
server stream is tracked under its token so that revocation or expiry ends it (``streams``).
Denials (UNAUTHENTICATED, PERMISSION_DENIED) and every call of a ``mutating`` method are written
to the audit log before the answer goes out.

It is the access concern of the gateway server's one interceptor layer (the runtime's
``ServerLayer``), inside its tracing span, metrics and error mapping, so trace ids exist here and
the ThreeportErrors raised here reach the caller with their rich details.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from threeport_api_gateway.access.errors import RateLimited
from threeport_api_gateway.access.methods import MethodInfo, MethodTable
from threeport_api_gateway.access.projects import ProjectGuard
from threeport_api_gateway.access.streams import CachedCredentials, OpenStream
from threeport_api_gateway.access.targets import describe
from threeport_api_gateway.domain.ratelimit import RateLimiter
from threeport_api_gateway.http import bridge
from threeport_api_gateway.store.audit import AuditLog, AuditRecord, source_host
from threeport_runtime.errors import InvalidArgument, PermissionDenied, ThreeportError, Unauthenticated
from threeport_runtime.rpc.authorization import authorize
from threeport_runtime.rpc.error_mapping import RelayedStatus
from threeport_runtime.rpc.identity import Authenticator, Caller, current_caller
from threeport_runtime.rpc.interceptors import Guard
from threeport_runtime.telemetry import current_trace_id

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]


@dataclass
class Outcome:
    """How a call ended, for the audit log."""

    code: str = "OK"
    message: str = ""


class AccessCheck:
    def __init__(
        self,
        methods: MethodTable,
        authenticate: Authenticator,
        limiter: RateLimiter,
        audit: AuditLog,
        projects: ProjectGuard | None = None,
        credentials: CachedCredentials | None = None,
        failed_sources: RateLimiter | None = None,
        bridge_secret: str = "",
    ):
        self._methods = methods
        self._failed_sources = failed_sources or RateLimiter(0, 1)
        self._projects = projects
        self._credentials = credentials
        self._bridge_secret = bridge_secret
        self._authenticate = authenticate
        self._limiter = limiter
        self._audit = audit
        self._pending_audits: set[asyncio.Task[None]] = set()

    def around(self, method: str) -> Guard:
        """The check around every call of ``method`` (looked up once per method)."""
        info = self._methods.get(method)

        def guard(request: Any, context: Context, metadata: Mapping[str, str]) -> Any:
            return self._guard(method, info, request, context, metadata)

        return guard

    async def drain(self) -> None:
        """Waits for audit writes still in flight (their calls were cancelled)."""
        while self._pending_audits:
            await asyncio.gather(*self._pending_audits, return_exceptions=True)

    @asynccontextmanager
    async def _guard(
        self, method: str, info: MethodInfo | None, request: Any, context: Context, metadata: Mapping[str, str]
    ) -> AsyncIterator[None]:
        # Calls bridged from the HTTP listener carry the HTTP client's address (bridge.peer checks
        # the bridge's secret), so rate limits and the audit see the real source.
        peer = bridge.peer(metadata, context.peer() or "", self._bridge_secret)
        draft = _Draft(method=method, peer=peer, trace_id=current_trace_id())
        source = source_host(draft.peer)
        # A source whose calls keep failing authentication is refused before any hashing or
        # auditing, so a flood of bad tokens costs neither CPU nor audit rows.
        # Tokens that verified before cost no hashing to check again, so they still pass: a flood
        # from a shared address does not lock out the callers with valid tokens behind it.
        failing = self._failed_sources.wait(source)
        if failing > 0 and (self._credentials is None or not self._credentials.is_known(metadata)):
            log.info("unauthenticated calls rate limited", extra={"source": source, "method": method})
            raise RateLimited(f"{source} (calls failing authentication)", failing)
        try:
            try:
                caller = await self._authenticate(metadata)
            except Unauthenticated:
                self._failed_sources.acquire(source)
                raise
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
        stream = self._open_stream(info, caller, metadata)
        try:
            if self._projects is not None and info is not None:
                await self._projects.check(info, message)
            yield
        except ThreeportError as error:
            outcome.code, outcome.message = error.code.name, error.message
            raise
        except RelayedStatus as relayed:
            # A backend's answer, relayed unchanged once this (and the audit below) is done.
            outcome.code, outcome.message = relayed.code.name, relayed.details
            raise
        except grpc.aio.AbortError:
            if outcome.code == "OK":
                outcome.code = _code_name(context.code())
            raise
        except asyncio.CancelledError:
            if stream is not None and stream.ended_by is not None:
                # Ended because its credential stopped being valid, not by the caller.
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
                raise stream.ended_by from None
            outcome.code, outcome.message = "CANCELLED", "the caller cancelled the call"
            raise
        except Exception:
            outcome.code, outcome.message = "INTERNAL", "internal error"
            raise
        finally:
            if stream is not None and self._credentials is not None:
                self._credentials.streams.close(stream)
            current_caller.reset(caller_token)
            if info is not None and info.mutating:
                await self._record(draft.finish(True, outcome.code, outcome.message))

    def _open_stream(self, info: MethodInfo | None, caller: Caller, metadata: Mapping[str, str]) -> OpenStream | None:
        """Tracks a server stream under its token, so that revocation or expiry ends it."""
        if info is None or not info.server_streaming or self._credentials is None:
            return None
        found = self._credentials.credential(metadata)
        if found is None:
            return None
        token_uid, expire_time = found
        return self._credentials.streams.open(token_uid, caller.principal, expire_time)

    async def _record(self, record: AuditRecord) -> None:
        # Shielded: a caller hanging up must not erase the record of what it did.
        task = asyncio.create_task(self._append(record))
        self._pending_audits.add(task)
        task.add_done_callback(self._pending_audits.discard)
        await asyncio.shield(task)

    async def _append(self, record: AuditRecord) -> None:
        try:
            if record.allowed:
                await self._audit.append(record)
            else:
                await self._audit.append_denial(record)
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
            raise InvalidArgument(
                f"the request body cannot be read as a request of {info.path.lstrip('/')}; "
                "send it from a client built from the same API version (the SDK or tptctl)"
            ) from None
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
