"""The audit log: one append-only row per mutation or denial, listed newest-last by name.

Names are ``auditEntries/<13-digit milliseconds><8 hex>``, so name order is time order and the
runtime's keyset page tokens work unchanged. Filters use the runtime's AIP-160 parser over the
columns ``principal``, ``project``, ``method``, ``allowed`` and ``code``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, insert, not_, select, true, update

from threeport.gateway.v1alpha1 import audit_entry_pb2
from threeport_api_gateway.store.tables import AuditRow
from threeport_runtime.db.convert import timestamp
from threeport_runtime.db.engine import Database
from threeport_runtime.db.filters import filter_error, parse_filter
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.db.repository import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from threeport_runtime.errors import FieldViolation, InvalidArgument, NotFound

COLLECTION = "auditEntries"
REPEAT_WINDOW_SECONDS = 60.0
_MAX_REMEMBERED = 10_000
_TEXT_FIELDS = {
    "principal": AuditRow.principal,
    "project": AuditRow.project,
    "method": AuditRow.method,
    "code": AuditRow.code,
    "resource": AuditRow.resource,
}


@dataclass(frozen=True)
class AuditRecord:
    principal: str
    method: str
    resource: str
    project: str
    allowed: bool
    code: str
    message: str
    trace_id: str
    peer: str


class AuditLog:
    def __init__(self, db: Database, page_tokens: PageTokenCodec, *, clock: Callable[[], float] = time.monotonic):
        self._db = db
        self._page_tokens = page_tokens
        self._clock = clock
        # Identical denial -> (its entry, when that entry was opened): repeats only count up.
        self._recent_denials: dict[tuple[str, ...], tuple[str, float]] = {}

    async def append_denial(self, record: AuditRecord) -> str:
        """Appends a denial, or counts it on the entry of an identical one (same principal,
        method, code, message and source host) made less than a minute ago."""
        key = (record.principal, record.method, record.code, record.message, source_host(record.peer))
        now = self._clock()
        recent = self._recent_denials.get(key)
        if recent is not None and now - recent[1] < REPEAT_WINDOW_SECONDS:
            async with self._db.session() as session, session.begin():
                counted = await session.execute(
                    update(AuditRow).where(AuditRow.name == recent[0]).values(count=AuditRow.count + 1)
                )
            if getattr(counted, "rowcount", 0):
                return recent[0]
        if len(self._recent_denials) >= _MAX_REMEMBERED:
            self._recent_denials.clear()
        name = await self.append(record)
        self._recent_denials[key] = (name, now)
        return name

    async def append(self, record: AuditRecord) -> str:
        now = datetime.now(UTC)
        name = f"{COLLECTION}/{int(now.timestamp() * 1000):013d}{secrets.token_hex(4)}"
        async with self._db.session() as session, session.begin():
            await session.execute(insert(AuditRow).values(name=name, time=now, **record.__dict__))
        return name

    async def get(self, name: str) -> audit_entry_pb2.AuditEntry:
        async with self._db.session() as session:
            row = await session.scalar(select(AuditRow).where(AuditRow.name == name))
        if row is None:
            raise NotFound(f"audit entry {name!r} not found", metadata={"resource": name})
        return to_message(row)

    async def list(
        self, *, page_size: int = 0, page_token: str = "", filter_text: str = ""
    ) -> tuple[list[audit_entry_pb2.AuditEntry], str]:
        if page_size < 0:
            raise InvalidArgument.for_fields([FieldViolation("page_size", "must not be negative")])
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        fingerprint = PageTokenCodec.fingerprint("audit", filter_text)
        query = select(AuditRow).where(compile_audit_filter(filter_text))
        if page_token:
            query = query.where(AuditRow.name > self._page_tokens.decode(page_token, fingerprint))
        async with self._db.session() as session:
            rows = list((await session.scalars(query.order_by(AuditRow.name).limit(size + 1))).all())
        next_token = ""
        if len(rows) > size:
            rows = rows[:size]
            next_token = self._page_tokens.encode(rows[-1].name, fingerprint)
        return [to_message(row) for row in rows], next_token


def compile_audit_filter(text: str) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    match: ColumnElement[bool]
    for comparison in parse_filter(text):
        field, op, value = comparison.field, comparison.op, comparison.value
        if field == "allowed":
            if value.lower() not in ("true", "false") or op == ":":
                raise filter_error("allowed takes = or != with true or false")
            match = AuditRow.allowed.is_(value.lower() == "true")
        elif field in _TEXT_FIELDS:
            column = _TEXT_FIELDS[field]
            if op == ":" and value == "*":
                match = column != ""
            elif value.endswith("*"):
                match = column.startswith(value[:-1], autoescape=True)
            else:
                match = column == value
        else:
            known = ", ".join(sorted([*_TEXT_FIELDS, "allowed"]))
            raise filter_error(f"unknown field {field!r}; filterable fields are {known}")
        clauses.append(not_(match) if op == "!=" else match)
    return and_(true(), *clauses)


def source_host(peer: str) -> str:
    """``ipv4:10.0.0.7:51234`` -> ``ipv4:10.0.0.7``: the caller's address without its port."""
    if peer.startswith("ipv6:[") and "]" in peer:
        return peer[: peer.index("]") + 1]
    return peer.rsplit(":", 1)[0] if peer.count(":") >= 2 else peer


def to_message(row: AuditRow) -> audit_entry_pb2.AuditEntry:
    return audit_entry_pb2.AuditEntry(
        name=row.name,
        time=timestamp(row.time),
        principal=row.principal,
        method=row.method,
        resource=row.resource,
        project=row.project,
        allowed=row.allowed,
        code=row.code,
        message=row.message,
        trace_id=row.trace_id,
        peer=row.peer,
        count=row.count,
    )
