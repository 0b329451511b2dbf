"""Kubernetes-style Events: a recorder for controllers and the generic ListEvents query.

Events live in the service's own ``events`` table, and only as long as their resource: its
removal deletes them, and none is stored for a resource that no longer exists. Repeats of the
same (resource uid, type, reason, message, source) fold into one row whose ``count`` grows, so
a controller retrying the same failure does not flood the table.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy import ColumnElement, and_, bindparam, delete, exists, false, literal, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert

from threeport.common.v1alpha1 import event_pb2
from threeport_runtime.db.convert import timestamp
from threeport_runtime.db.engine import Database
from threeport_runtime.db.filters import filter_error, parse_filter
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.db.repository import page_size_of
from threeport_runtime.db.schema import ServiceSchema

log = logging.getLogger(__name__)

NORMAL = event_pb2.EVENT_TYPE_NORMAL
WARNING = event_pb2.EVENT_TYPE_WARNING


M = TypeVar("M", bound=Message)

# The columns a recorded event is inserted with, and the parameter its resource's uid is looked
# for under in the resource tables (as a UUID).
COLUMNS = ("resource", "resource_uid", "type", "reason", "message", "source", "generation", "fingerprint",
           "count", "first_time", "last_time")
EXISTING_UID = "existing_uid"

class EventRecorder:
    def __init__(self, db: Database, schema: ServiceSchema, *, source: str):
        self._db = db
        self._table = schema.events
        self._source = source
        # The schema's resource tables: those with the standard resource columns (``ResourceRow``).
        self._resource_tables = [
            table for table in schema.metadata.tables.values()
            if {"uid", "finalizers", "status_fence"} <= set(table.c.keys())
        ]
        self._insert = self._build_insert()

    async def record(
        self,
        *,
        resource: str,
        resource_uid: str,
        type: event_pb2.EventType.ValueType,
        reason: str,
        message: str,
        generation: int = 0,
    ) -> None:
        """Records one occurrence; failures are logged, never raised, as events are advisory."""
        type_name = event_pb2.EventType.Name(type).removeprefix("EVENT_TYPE_")
        fingerprint = hashlib.sha256(
            "\x00".join([resource_uid, type_name, reason, message, self._source]).encode()
        ).hexdigest()
        try:
            uid = uuid.UUID(resource_uid)
        except ValueError:
            return  # no resource of this service has it: nothing is recorded (see _insert)
        now = datetime.now(UTC)
        values = {
            "resource": resource,
            "resource_uid": resource_uid,
            "type": type_name,
            "reason": reason,
            "message": message,
            "source": self._source,
            "generation": generation,
            "fingerprint": fingerprint,
            "count": 1,
            "first_time": now,
            "last_time": now,
            EXISTING_UID: uid,
        }
        try:
            # One statement, atomic on its own: in autocommit it is one round trip, not three.
            async with self._db.autocommit.connect() as connection:
                await connection.execute(self._insert, values)
        except Exception:
            log.exception("could not record event", extra={"reason": reason})

    def _build_insert(self) -> Any:
        """The upsert every record executes with its values, built once: building it (the
        ``excluded`` alias's columns above all) cost more than the rest of a record, ~10% of
        workload-delivery's CPU while it converged 10,000 deployments. Only while the resource
        exists: a reconcile still running when its resource was removed (and its events with it)
        must not leave an event that a resource re-created under the same name would show."""
        table = self._table
        row = select(*(bindparam(key, type_=table.c[key].type) for key in COLUMNS))
        # FOR KEY SHARE: a row that a removal's open transaction deleted still shows in this
        # statement's snapshot; the lock waits for that transaction, and once it commits the row
        # is gone and nothing is inserted (its events were deleted with it, before this one).
        existing = or_(false(), *(exists(select(literal(1)).where(
            resources.c.uid == bindparam(EXISTING_UID, type_=resources.c.uid.type)).with_for_update(
                read=True, key_share=True)) for resources in self._resource_tables))
        statement = insert(table).from_select(list(COLUMNS), row.where(existing))
        return statement.on_conflict_do_update(
            index_elements=[table.c.fingerprint],
            set_={
                "count": table.c.count + 1,
                "last_time": statement.excluded.last_time,
                "generation": statement.excluded.generation,
            },
        )

class EventLister:
    """The generic ListEvents: events of a resource and those below it, newest first."""

    def __init__(self, db: Database, schema: ServiceSchema, page_tokens: PageTokenCodec):
        self._db = db
        self._table = schema.events
        self._page_tokens = page_tokens

    async def respond(self, request: Any, response_type: type[M]) -> M:
        """A whole ``ListEvents`` RPC: each domain's EventService has its own request and response
        messages of the same shape, so its servicer method is ``return await lister.respond(...)``."""
        events, next_page_token = await self.list(
            parent=request.parent,
            page_size=request.page_size,
            page_token=request.page_token,
            filter_text=request.filter,
        )
        return response_type(events=events, next_page_token=next_page_token)

    async def list(
        self, *, parent: str, page_size: int = 0, page_token: str = "", filter_text: str = ""
    ) -> tuple[list[event_pb2.Event], str]:
        table = self._table
        size = page_size_of(page_size)  # a negative page size was INTERNAL here
        fingerprint = PageTokenCodec.fingerprint("events", parent, filter_text)
        query = select(table).where(self._filter(filter_text))
        if parent:
            query = query.where(or_(table.c.resource == parent, table.c.resource.startswith(parent + "/")))
        if page_token:
            last_time, last_id = self._page_tokens.decode(page_token, fingerprint).split("|")
            query = query.where(
                tuple_(table.c.last_time, table.c.id) < tuple_(datetime.fromisoformat(last_time), int(last_id))
            )
        query = query.order_by(table.c.last_time.desc(), table.c.id.desc()).limit(size + 1)
        async with self._db.autocommit.connect() as connection:
            rows = (await connection.execute(query)).all()
        next_token = ""
        if len(rows) > size:
            rows = rows[:size]
            next_token = self._page_tokens.encode(f"{rows[-1].last_time.isoformat()}|{rows[-1].id}", fingerprint)
        return [_to_event(row) for row in rows], next_token

    async def prune(self, older_than: datetime) -> int:
        """Deletes events not seen since ``older_than``; returns how many went."""
        async with self._db.engine.begin() as connection:
            result = await connection.execute(delete(self._table).where(self._table.c.last_time < older_than))
        return int(result.rowcount)

    def _filter(self, filter_text: str) -> ColumnElement[bool]:
        clauses = []
        columns = {
            "type": self._table.c.type,
            "reason": self._table.c.reason,
            "resource": self._table.c.resource,
        }
        for comparison in parse_filter(filter_text):
            column = columns.get(comparison.field)
            if column is None or comparison.op == ":":
                raise filter_error(
                    f"events can be filtered by type, reason and resource with = or !=, not {comparison.field!r}"
                )
            value = (
                comparison.value.upper().removeprefix("EVENT_TYPE_") if comparison.field == "type" else comparison.value
            )
            clauses.append(column == value if comparison.op == "=" else column != value)
        return and_(true(), *clauses)


def _to_event(row: Any) -> event_pb2.Event:
    return event_pb2.Event(
        name=f"{row.resource}/events/{row.id}",
        resource=row.resource,
        resource_uid=row.resource_uid,
        type=event_pb2.EventType.Value("EVENT_TYPE_" + row.type),
        reason=row.reason,
        message=row.message,
        count=row.count,
        first_time=timestamp(row.first_time),
        last_time=timestamp(row.last_time),
        source=row.source,
        generation=row.generation,
    )
