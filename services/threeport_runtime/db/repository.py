"""Generic storage of one resource type: the standard methods over a ``ResourceRow`` table.

It implements the API conventions of DESIGN §3 once for every service: idempotent create by
``request_id``, etag checks (ABORTED), generation bumps on spec changes only, keyset paging
with signed tokens, the filter subset, soft delete with finalizers (a removed resource's events
go with it), status writes fenced by the reconcile lease, encrypted secret fields, and one
outbox event per committed change.
Validation of user input stays in the service: pass ``validate`` to create/update and it runs on
the final message before anything is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, NamedTuple, TypeVar

from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    MetaData,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    delete,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from threeport.common.v1alpha1 import annotations_pb2, change_event_pb2
from threeport_runtime.bus.outbox import Outbox
from threeport_runtime.conditions import derive_state, is_reconciling, state_label
from threeport_runtime.crypto import FieldCipher
from threeport_runtime.db import convert, secret_fields
from threeport_runtime.db.engine import Database
from threeport_runtime.db.fencing import current_fence
from threeport_runtime.db.filters import compile_filter, declared_field_text
from threeport_runtime.db.message_cache import MessageCache
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.db.plain_reads import PlainRead
from threeport_runtime.db.schema import ResourceRow
from threeport_runtime.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from threeport_runtime.rpc.limits import LIST_RESPONSE_BYTES

M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=ResourceRow)
Validator = Callable[[M], None]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
UPDATABLE_ROOTS = ("spec", "labels", "annotations")
# What ``create`` sets in a new row (``_insert_once`` inserts these; the table's others get theirs).
CREATED_COLUMNS = ("uid", "name", "parent", "labels", "annotations", "create_time", "update_time", "delete_time",
                   "etag", "generation", "conditions", "state", "reconciling", "spec", "status", "finalizers",
                   "request_id", "status_fence")
# What a status write changes in a row (``_swap_status``; the locked path sets the same).
SWAPPED_COLUMNS = ("status", "conditions", "state", "reconciling", "update_time", "etag", "status_fence")

CREATED = change_event_pb2.CHANGE_TYPE_CREATED
UPDATED = change_event_pb2.CHANGE_TYPE_UPDATED
STATUS_CHANGED = change_event_pb2.CHANGE_TYPE_STATUS_CHANGED
DELETE_REQUESTED = change_event_pb2.CHANGE_TYPE_DELETE_REQUESTED
DELETED = change_event_pb2.CHANGE_TYPE_DELETED


# The AIP-159 wildcard: a parent segment that stands for every id.
WILDCARD = "-"


class StaleFence(Aborted):
    """A status write from a replica whose reconcile lease was taken over."""


@dataclass(frozen=True)
class Stored(Generic[M]):
    """A resource as one read found it, with the row's fields its message does not carry."""

    message: M
    finalizers: tuple[str, ...]
    status_fence: int


class ResourceRepository(Generic[M, R]):
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        *,
        row_type: type[R],
        message_type: type[M],
        page_tokens: PageTokenCodec,
        filter_fields: Mapping[str, str] | None = None,
        secret_paths: Sequence[str] = (),
        cipher: FieldCipher | None = None,
        owner_field: str = "",
        children: Sequence[ResourceRepository[Any, Any]] = (),
        finalizers_on_create: Sequence[str] = (),
    ):
        if secret_paths and cipher is None:
            raise ValueError("secret_paths need a FieldCipher")
        if owner_field and owner_field.split(".", 1)[0] not in ("spec", "status"):
            raise ValueError(f"owner_field must be a spec.* or status.* path, not {owner_field!r}")
        self._db = db
        self._outbox = outbox
        # The finalizer of the controller that reconciles this kind, held from creation: its
        # first pass need not add it (a locked write per resource, in every burst of creations).
        self._finalizers_on_create = list(finalizers_on_create)
        self.row_type = row_type
        self.message_type = message_type
        self.resource_type = message_type.DESCRIPTOR.full_name
        descriptor = message_type.DESCRIPTOR.GetOptions().Extensions[annotations_pb2.resource]
        self.singular = descriptor.singular or message_type.DESCRIPTOR.name
        self._page_tokens = page_tokens
        self._filter_fields = dict(filter_fields or {})
        self._secret_paths = list(secret_paths)
        self._cipher = cipher
        # Where the owner's name is (proto field names, e.g. ``spec.owner``): it travels on
        # every change event, so an owner's controller needs no read to find its key.
        self._owner_path = owner_field.split(".") if owner_field else []
        # Resource types named below this one (``.../applications/A/builds/B``) that cannot
        # outlive it: removing this row removes theirs in the same transaction, so a resource
        # re-created under the old name never finds the old one's children.
        self._children = list(children)
        # The message each row last converted to: unchanged rows are read far more often than
        # they change (``message_cache``).
        self._messages: MessageCache[M] = MessageCache(message_type)
        # Plain reads select the table's columns (``Database.fetch``, no ORM object per row); the
        # by-name read is built once (building a statement costs ~20 us, a third of them by name).
        self._table = inspect(row_type).local_table
        self._by_name = PlainRead(select(self._table).where(self._table.c.name == bindparam("name")))
        self._status_swap = self._status_swap_statement()
        self._names_with: dict[tuple[str, bool, bool], PlainRead] = {}  # per field and shape (``names_with``)
        self._by_request = PlainRead(select(self._table).where(self._table.c.request_id == bindparam("request_id")))
        self._insert = self._insert_statement()

    @property
    def stream(self) -> str:
        """The stream this resource type's change events are published to."""
        return self._outbox.stream_for(self.resource_type)

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, name: str) -> M:
        return (await self.read(name)).message

    async def read(self, name: str) -> Stored[M]:
        """The resource with what its message leaves out and a controller needs (finalizers, the
        status fence), in one plain read: a reconcile reads it once and passes it on to
        ``update_status``, so a pass that changes nothing costs this read and no other."""
        row = await self._plain_row(name)
        if row is None:
            raise self._not_found(name)
        return Stored(self.to_message(row), tuple(row.finalizers), row.status_fence)

    async def find(self, name: str, filter_text: str = "") -> M | None:
        """The resource if it exists and matches ``filter_text`` (used by Watch), else None."""
        if not filter_text:
            # A watch of everything (``tptctl get deployments -w``) reads every changed resource:
            # the by-name plain read, not a statement built and compiled for each change.
            row = await self._plain_row(name)
            return self.to_message(row) if row is not None else None
        condition = self.compile_filter(filter_text)
        rows = await self._db.fetch(select(self._table).where(self.row_type.name == name, condition))
        return self.to_message(rows[0]) if rows else None

    async def list(
        self,
        *,
        parent: str = "",
        page_size: int = 0,
        page_token: str = "",
        filter_text: str = "",
        hide_deleting: bool = False,
    ) -> tuple[list[M], str]:
        """One page in name order and the token of the next page ('' on the last page)."""
        size = page_size_of(page_size)
        fingerprint = PageTokenCodec.fingerprint(self.resource_type, parent, filter_text, hide_deleting)
        query = select(self._table).where(self.compile_filter(filter_text))
        if parent:
            query = query.where(parent_clause(self.row_type.parent, parent))
        if hide_deleting:
            query = query.where(self.row_type.delete_time.is_(None))
        if page_token:
            query = query.where(self.row_type.name > self._page_tokens.decode(page_token, fingerprint))
        rows = await self._db.fetch(query.order_by(self.row_type.name).limit(size + 1))
        more = len(rows) > size
        messages: list[M] = []
        total = 0
        for row in rows[:size]:
            message = self.to_message(row)
            total += message.ByteSize()
            if messages and total > LIST_RESPONSE_BYTES:
                more = True  # Bounded by size as well as count: the rest is on the next page.
                break
            messages.append(message)
        next_token = self._page_tokens.encode(_name_of(messages[-1]), fingerprint) if more else ""
        return messages, next_token

    async def iter_names(
        self, batch_size: int = 1000, *, parent: str = "", filter_text: str = "", hide_deleting: bool = False
    ) -> AsyncIterator[str]:
        """Every resource name (under ``parent`` as ``list`` reads it, matching ``filter_text``), in
        batches: the controller's resync source, and a cheap answer to "which resources match"
        (no row is converted)."""
        condition = self.compile_filter(filter_text)
        if parent:
            condition = and_(condition, parent_clause(self.row_type.parent, parent))
        if hide_deleting:
            condition = and_(condition, self.row_type.delete_time.is_(None))
        last = ""
        while True:
            async with self._db.read_session() as session:
                names = list(
                    (
                        await session.scalars(
                            select(self.row_type.name)
                            .where(condition, self.row_type.name > last)
                            .order_by(self.row_type.name)
                            .limit(batch_size)
                        )
                    ).all()
                )
            for name in names:
                yield name
            if len(names) < batch_size:
                return
            last = names[-1]

    async def names_with(
        self, field: str, value: str, *, parent: str | None = None, hide_deleting: bool = False
    ) -> tuple[str, ...]:
        """The names, in order, of the resources whose declared filter field ``field`` is
        ``value`` (under ``parent`` exactly, no wildcard, when given; leaving out those being
        deleted with ``hide_deleting``): what mapping an event to the resources naming its object
        asks ("the deployments of this application", "the claims bound to this cluster"). One
        plain read built once per field and shape: no filter text parsed, no row converted (an
        event mapped through ``list`` cost ~2.3 ms of the service's CPU, most of it building and
        compiling the statement)."""
        read = self.names_with_read(field, parent=parent is not None, hide_deleting=hide_deleting)
        values = {"value": value} if parent is None else {"value": value, "parent": parent}
        return tuple(row.name for row in await self._db.fetch(read, values))

    def names_with_read(self, field: str, *, parent: bool = True, hide_deleting: bool = False) -> PlainRead:
        """The statement of ``names_with`` for ``field`` (parameters ``value``, and ``parent``
        if ``parent``), built on first use; the key is in its text, so an expression index on it
        serves it."""
        shape = (field, parent, hide_deleting)
        read = self._names_with.get(shape)
        if read is None:
            declared = self._filter_fields.get(field)
            if declared is None:
                raise ValueError(f"{field!r} is not a declared filter field of {self.singular}")
            statement = select(self._table.c.name).where(
                declared_field_text(self.row_type, declared) == bindparam("value"))
            if parent:
                statement = statement.where(self._table.c.parent == bindparam("parent"))
            if hide_deleting:
                statement = statement.where(self._table.c.delete_time.is_(None))
            read = self._names_with[shape] = PlainRead(statement.order_by(self._table.c.name))
        return read

    async def count_by(self, field: str) -> dict[str, int]:
        """How many resources not being deleted have each non-empty value of a declared filter
        field (claims per ``status.cluster``), in one query."""
        value = declared_field_text(self.row_type, self._filter_fields[field])
        query = (
            select(value, func.count())
            .where(self.row_type.delete_time.is_(None), value.is_not(None), value != "")
            .group_by(value)
        )
        async with self._db.read_session() as session:
            return {str(key): int(count) for key, count in (await session.execute(query)).all()}

    def compile_filter(self, filter_text: str) -> ColumnElement[bool]:
        return compile_filter(filter_text, self.row_type, self._filter_fields)

    # -- writes --------------------------------------------------------------------------------

    async def create(
        self,
        resource: M,
        *,
        name: str,
        request_id: str = "",
        validate_only: bool = False,
        validate: Validator[M] | None = None,
    ) -> M:
        """Creates the resource from its labels, annotations and spec (other fields ignored)."""
        now = datetime.now(UTC)
        uid = convert.new_uid()
        row = self.row_type()
        row.uid = uid
        row.name = name
        row.parent = parent_of(name)
        source: Any = resource
        row.labels = dict(source.labels)
        row.annotations = dict(source.annotations)
        row.create_time = row.update_time = now
        row.delete_time = None
        row.etag = _etag(str(uid), 1, now)
        row.generation = 1
        row.conditions = []
        row.state = state_label(derive_state([], 1, deleting=False))
        row.reconciling = True
        row.spec = convert.document(resource, "spec")
        row.status = {}
        row.finalizers = list(self._finalizers_on_create)
        row.request_id = request_id or None
        row.status_fence = 0
        created = self.to_message(row, sealed=False)
        if validate is not None:
            validate(created)
        if validate_only:
            if await self._plain_row(name) is not None:
                raise self._exists(name)
            return created
        self._seal(row)
        return await self._insert_once(row, created)

    async def _insert_once(self, row: R, created: M) -> M:
        """``create``'s write as one autocommit statement: the row and its CREATED event, unless
        a row with its name or request id exists (``ON CONFLICT DO NOTHING``: nothing written).
        Then the request id's row is a retry's result, and the name's is AlreadyExists. What the
        transaction did in six round trips (BEGIN, the request id's and the name's reads, the
        INSERT, the event's, COMMIT) is one when the name is free."""
        values = {f"new_{column}": getattr(row, column) for column in CREATED_COLUMNS}
        values |= self._event_values(row.name, str(row.uid), row.generation, CREATED, self._owner(row))
        for _ in range(2):  # a conflicting row deleted before it was found: the name is free again
            inserted = await self._db.fetch(self._insert, values)
            if inserted:
                return created
            if row.request_id and (earlier := await self._db.fetch(self._by_request, {"request_id": row.request_id})):
                return self.to_message(earlier[0])
            if await self._plain_row(row.name) is not None:
                raise self._exists(row.name)
        raise Aborted(f"{row.name} was created and deleted while this request ran; send it again")

    async def update(
        self,
        resource: M,
        update_mask: Sequence[str] = (),
        *,
        allow_missing: bool = False,
        validate_only: bool = False,
        validate: Validator[M] | None = None,
    ) -> M:
        """Replaces the masked fields of spec, labels and annotations; ABORTED on a stale etag."""
        source: Any = resource
        paths = list(update_mask) or list(UPDATABLE_ROOTS)
        bad = [p for p in paths if p.split(".")[0] not in UPDATABLE_ROOTS]
        if bad:
            raise InvalidArgument.for_fields(
                [
                    FieldViolation("update_mask", f"{p!r} cannot be updated; use spec, labels or annotations")
                    for p in bad
                ]
            )
        mask = field_mask_pb2.FieldMask(paths=paths)
        descriptor: Any = self.message_type.DESCRIPTOR
        if not mask.IsValidForDescriptor(descriptor):
            raise InvalidArgument.for_fields([FieldViolation("update_mask", f"unknown field in {paths}")])
        async with self._db.session() as session, session.begin():
            row = await self._row(session, source.name, for_update=True)
            if row is None:
                if allow_missing:
                    await session.rollback()
                    return await self.create(resource, name=source.name, validate_only=validate_only, validate=validate)
                raise self._not_found(source.name)
            self._check_etag(row, source.etag)
            if row.delete_time is not None:
                raise FailedPrecondition(
                    f"{self.singular} {row.name!r} is being deleted and cannot be changed",
                    reason="RESOURCE_DELETING",
                )
            current = self.to_message(row)
            updated = self.message_type()
            updated.CopyFrom(current)
            mask.MergeMessage(resource, updated, replace_message_field=True, replace_repeated_field=True)
            if validate is not None:
                validate(updated)
            target: Any = updated
            spec_changed = convert.document(updated, "spec") != convert.document(current, "spec")
            meta_changed = (dict(target.labels), dict(target.annotations)) != (row.labels, row.annotations)
            if validate_only or not (spec_changed or meta_changed):
                return updated if validate_only else current
            if spec_changed:
                row.generation += 1
                row.spec = convert.document(updated, "spec")
            row.labels = dict(target.labels)
            row.annotations = dict(target.annotations)
            self._touch(row, current)
            self._seal(row)
            await self._event(session, row, UPDATED)
            return self.to_message(row)

    async def update_status(self, name: str, mutate: Callable[[M], None], *, read: Stored[M] | None = None) -> M | None:
        """Applies ``mutate`` to status and conditions; writes only if they changed.

        Returns the stored resource, or None if it no longer exists. Under a reconcile lease the
        write is fenced: a replica holding an older token gets StaleFence. Most steady reconciles
        change nothing, so ``mutate`` is first tried without a lock: on ``read`` (what ``read()``
        returned earlier in the same pass: no statement at all) or else on a plain read. Only a
        change takes the row lock, re-reads and checks the fence again, and applies ``mutate``
        again, so what is written never rests on an older read. A change made by someone else
        after ``read`` is not overwritten by a pass that changes nothing.
        """
        fence = current_fence.get()
        if read is not None:
            self._check_fence(read.status_fence, fence, name)
            changed = self._mutated_status(read.message, None, mutate)
            if changed is None:
                return read.message
            if not self._secret_paths:
                written = await self._swap_status(read, changed, fence)
                if written is not None:
                    return written
            # Changed since ``read`` (or gone, or sealed fields to write): decided on the locked row.
        else:
            plain = await self._plain_row(name)
            if plain is None:
                return None
            self._check_fence(plain.status_fence, fence, name)
            current = self.to_message(plain)
            if self._mutated_status(current, plain.conditions, mutate) is None:
                return current
        async with self._db.session() as session, session.begin():
            row = await self._row(session, name, for_update=True)
            if row is None:
                return None
            self._check_fence(row.status_fence, fence, name)
            current = self.to_message(row)
            changed = self._mutated_status(current, row.conditions, mutate)
            if changed is None:
                return current
            row.status, row.conditions = changed
            if fence is not None:
                row.status_fence = fence
            self._touch(row, current)
            self._seal(row)
            await self._event(session, row, STATUS_CHANGED)
            return self.to_message(row)

    async def _swap_status(self, read: Stored[M], changed: tuple[Any, Any], fence: int | None) -> M | None:
        """Writes ``changed`` (status and conditions as stored) with its change event in one
        autocommit statement, if the row is still as ``read`` found it (its etag and fence: any
        write since changed them): the stored resource, else None (nothing was written).

        What the locked path does in five round trips (BEGIN, SELECT ... FOR UPDATE, UPDATE, the
        outbox INSERT, COMMIT) and a second ``mutate``, when the row did not change since the
        pass read it, which is nearly always: a status write is one round trip."""
        message: Any = read.message
        status, conditions = changed
        stamp = _stamp(message.uid, message.generation, conditions, deleting=message.HasField("delete_time"))
        spec = convert.document(message, "spec") if self._owner_path[:1] == ["spec"] else {}
        rows = await self._db.fetch(self._status_swap, {
            "swap_name": message.name,
            "read_etag": message.etag,
            "read_fence": read.status_fence,
            "new_status": status,
            "new_conditions": conditions,
            "new_state": stamp.state,
            "new_reconciling": stamp.reconciling,
            "new_update_time": stamp.update_time,
            "new_etag": stamp.etag,
            "new_status_fence": fence if fence is not None else read.status_fence,
            **self._event_values(message.name, message.uid, message.generation, STATUS_CHANGED,
                                 self._owner_in(spec, status)),
        })
        return self.to_message(rows[0]) if rows else None

    def _insert_statement(self) -> Select[Any]:
        """``_insert_once``'s statement: the row unless its name or request id is taken, and the
        event of what it returns, in one statement's CTEs. A table's own columns beyond the
        standard ones are left to the database (NULL, or their server default): one that wants
        a value from the ORM (a Python-side default) cannot be created this way, and is refused
        here rather than stored without it."""
        table = self._table
        for column in table.c:
            default = column.default
            if column.name not in CREATED_COLUMNS and default is not None and (
                    not default.is_scalar or getattr(default, "arg", None) is not None):
                raise TypeError(f"{table.name}.{column.name} has a Python-side default: give it a server default")
        inserted = (
            postgresql.insert(table)
            .values({column: bindparam(f"new_{column}", type_=table.c[column].type) for column in CREATED_COLUMNS})
            .on_conflict_do_nothing()
            .returning(*table.c)
            .cte("inserted")
        )
        return select(*inserted.c).add_cte(self._event_of(inserted))

    def _event_values(
        self, name: str, uid: str, generation: int, change: change_event_pb2.ChangeType.ValueType, owner: str
    ) -> dict[str, Any]:
        """The parameters of ``_event_of``'s CTE for this resource's change event."""
        event = self._change_event(name, uid, generation, change, owner)
        return {"event_stream": self.stream, "event_payload": event.SerializeToString()}

    def _event_of(self, written: Any) -> Any:
        """The CTE inserting the change event (bound as ``event_stream``, ``event_payload``) of
        each row the CTE ``written`` returns: none when it wrote nothing."""
        return self._outbox.insert_selected(
            select(bindparam("event_stream", type_=Text()), written.c.name,
                   bindparam("event_payload", type_=LargeBinary()))
        ).cte("event")

    def _status_swap_statement(self) -> Select[Any]:
        """``_swap_status``'s statement: the row's update, if unchanged, and the event of what it
        returns (none when nothing matched), both in one statement's CTEs."""
        table = self._table
        updated = (
            update(table)
            .where(table.c.name == bindparam("swap_name"), table.c.etag == bindparam("read_etag"),
                   table.c.status_fence == bindparam("read_fence"))
            .values({column: bindparam(f"new_{column}", type_=table.c[column].type) for column in SWAPPED_COLUMNS})
            .returning(*table.c)
            .cte("updated")
        )
        return select(*updated.c).add_cte(self._event_of(updated))

    def _mutated_status(
        self, current: M, stored_conditions: Any, mutate: Callable[[M], None]
    ) -> tuple[Any, Any] | None:
        """Status and conditions (as stored) after ``mutate``, or None when nothing changes.
        ``stored_conditions`` None: they are ``current``'s (a message read just before), so an
        unchanged message is answered by comparing messages (C code), not their documents."""
        updated = self.message_type()
        updated.CopyFrom(current)
        mutate(updated)
        if stored_conditions is None:
            if updated == current:  # equal messages have equal documents: nothing to write
                return None
            stored_conditions = convert.conditions_to_json(getattr(current, "conditions"))  # noqa: B009
        target: Any = updated
        status = convert.document(updated, "status")
        conditions = convert.conditions_to_json(target.conditions)
        if status == convert.document(current, "status") and conditions == stored_conditions:
            return None
        return status, conditions

    @staticmethod
    def _check_fence(written: int, fence: int | None, name: str) -> None:
        """StaleFence if a newer lease holder than ``fence`` wrote the status (``written``)."""
        if fence is not None and written > fence:
            raise StaleFence(f"status of {name!r} was written by a newer lease holder")

    async def delete(self, name: str, *, etag: str = "", allow_missing: bool = False, validate_only: bool = False) -> M:
        """Requests deletion; the row goes at once when no finalizers hold it."""
        async with self._db.session() as session, session.begin():
            row = await self._row(session, name, for_update=True)
            if row is None:
                if allow_missing:
                    return self.message_type()
                raise self._not_found(name)
            self._check_etag(row, etag)
            if validate_only:
                return self.to_message(row)
            if row.delete_time is None:
                current = self.to_message(row)
                row.delete_time = datetime.now(UTC)
                self._touch(row, current)
                await self._event(session, row, DELETE_REQUESTED)
            if not row.finalizers:
                return await self._remove(session, row)
            return self.to_message(row)

    async def add_finalizer(self, name: str, finalizer: str) -> bool:
        """Adds a finalizer unless the resource is gone or being deleted; True if it holds one.

        Every reconcile calls this and it nearly always holds already: that is answered by a
        plain read, and only a missing finalizer takes the row lock."""
        plain = await self._plain_row(name)
        if plain is None or finalizer in plain.finalizers:
            return plain is not None
        async with self._db.session() as session, session.begin():
            row = await self._row(session, name, for_update=True)
            if row is None:
                return False
            if finalizer in row.finalizers:
                return True
            if row.delete_time is not None:
                return False
            row.finalizers = [*row.finalizers, finalizer]
            return True

    async def remove_finalizer(self, name: str, finalizer: str) -> None:
        """Removes a finalizer; the row goes when deletion was requested and none remain."""
        async with self._db.session() as session, session.begin():
            row = await self._row(session, name, for_update=True)
            if row is None or finalizer not in row.finalizers:
                return
            row.finalizers = [f for f in row.finalizers if f != finalizer]
            if row.delete_time is not None and not row.finalizers:
                await self._remove(session, row)

    # -- conversion ----------------------------------------------------------------------------

    def to_message(self, row: R | Row[Any], *, sealed: bool = True) -> M:
        """The message of a row, as the session loaded it or as a plain read found it."""
        spec, status = row.spec, row.status
        if sealed and self._secret_paths and self._cipher is not None:
            document = {"spec": _deep_copy(row.spec), "status": _deep_copy(row.status)}
            secret_fields.unseal(document, self._secret_paths, self._cipher, str(row.uid))
            spec, status = document["spec"], document["status"]
        return self._messages.convert(
            row, spec, status, lambda: convert.row_to_message(row, self.message_type, spec=spec, status=status)
        )

    # -- internals -----------------------------------------------------------------------------

    async def _plain_row(self, name: str) -> Any:
        """The row named ``name`` from a plain read (``Database.fetch``), or None."""
        rows = await self._db.fetch(self._by_name, {"name": name})
        return rows[0] if rows else None

    async def _row(self, session: AsyncSession, name: str, *, for_update: bool = False) -> R | None:
        query = select(self.row_type).where(self.row_type.name == name)
        if for_update:
            query = query.with_for_update()
        return await session.scalar(query)

    async def _remove(self, session: AsyncSession, row: R) -> M:
        gone = self.to_message(row)
        await session.execute(delete(self.row_type).where(self.row_type.uid == row.uid))
        await self._forget_events(session, row)
        for child in self._children:
            await child._remove_below(session, row.name)
        await self._event(session, row, DELETED)
        return gone

    async def _remove_below(self, session: AsyncSession, parent: str) -> None:
        """Removes every row whose parent is ``parent``, finalizers or not: the parent is gone,
        so nothing a finalizer would wait for can still be done on its behalf."""
        query = select(self.row_type).where(self.row_type.parent == parent).with_for_update()
        for row in (await session.scalars(query)).all():
            await self._remove(session, row)

    async def _forget_events(self, session: AsyncSession, row: R) -> None:
        """The resource's events go with it, in the same transaction: a resource (or a whole
        project) re-created under the same name must not show the old one's history.
        Controllers record their last event (``Deleted``) before they let the row go."""
        metadata: MetaData = getattr(self.row_type, "metadata")  # noqa: B009 - the declarative base's
        events = metadata.tables.get(f"{metadata.schema}.events")
        if events is None:
            return
        # By name too: the (resource, last_time) index finds the rows without a scan.
        await session.execute(
            delete(events).where(events.c.resource == row.name, events.c.resource_uid == str(row.uid))
        )

    async def _event(self, session: AsyncSession, row: R, change: change_event_pb2.ChangeType.ValueType) -> None:
        await self._outbox.add(session, self._change_event(row.name, str(row.uid), row.generation, change,
                                                           self._owner(row)))

    def _change_event(
        self, name: str, uid: str, generation: int, change: change_event_pb2.ChangeType.ValueType, owner: str
    ) -> change_event_pb2.ChangeEvent:
        return self._outbox.event(resource_type=self.resource_type, name=name, uid=uid, generation=generation,
                                  change=change, owner=owner)

    def _owner(self, row: R) -> str:
        return self._owner_in(row.spec, row.status)

    def _owner_in(self, spec: Any, status: Any) -> str:
        """The owner's name at ``owner_field`` in the stored documents, or ""."""
        if not self._owner_path:
            return ""
        node: Any = spec if self._owner_path[0] == "spec" else status
        for part in self._owner_path[1:]:
            node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, str) else ""

    def _touch(self, row: R, before: M) -> None:
        """Re-derives state, bumps the etag and update time after any change."""
        stamp = _stamp(str(row.uid), row.generation, row.conditions, deleting=row.delete_time is not None)
        row.state, row.reconciling, row.update_time, row.etag = stamp

    def _seal(self, row: R) -> None:
        if not self._secret_paths or self._cipher is None:
            return
        document = {"spec": _deep_copy(row.spec), "status": _deep_copy(row.status)}
        secret_fields.seal(document, self._secret_paths, self._cipher, str(row.uid))
        row.spec, row.status = document["spec"], document["status"]

    def _check_etag(self, row: R, etag: str) -> None:
        if etag and etag != row.etag:
            raise Aborted(
                f"{self.singular} {row.name!r} changed since it was read (etag {etag!r} is stale); "
                "get it again and retry"
            )

    def _not_found(self, name: str) -> NotFound:
        return NotFound(f"{self.singular} {name!r} not found", metadata={"resource": name})

    def _exists(self, name: str) -> AlreadyExists:
        return AlreadyExists(
            f"{self.singular} {name!r} already exists; choose another id or update it instead",
            metadata={"resource": name},
        )


def parent_clause(column: Any, parent: str) -> ColumnElement[bool]:
    """``column`` is ``parent``, where a ``-`` segment matches any id (AIP-159: the builds of every
    application of a project are listed with ``projects/acme/applications/-``)."""
    parts = parent.split("/")
    if WILDCARD not in parts:
        clause: ColumnElement[bool] = column == parent
        return clause
    return column.like("/".join("%" if part == WILDCARD else part for part in parts))  # type: ignore[no-any-return]


def page_size_of(page_size: int) -> int:
    """The rows a page holds: ``page_size`` capped at MAX_PAGE_SIZE, 0 meaning the default;
    negative is INVALID_ARGUMENT."""
    if page_size < 0:
        raise InvalidArgument.for_fields([FieldViolation("page_size", "must not be negative")])
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _name_of(message: Message) -> str:
    name: str = getattr(message, "name")  # noqa: B009 - generic over resource types
    return name


def parent_of(name: str) -> str:
    """The collection parent of a resource name: ``projects/acme`` for ``projects/acme/applications/shop``."""
    parts = name.split("/")
    return "/".join(parts[:-2])


class _Stamp(NamedTuple):
    """What every change writes besides itself: the derived state, the update time, a new etag."""

    state: str
    reconciling: bool
    update_time: datetime
    etag: str


def _stamp(uid: str, generation: int, conditions: list[dict[str, Any]], *, deleting: bool) -> _Stamp:
    now = datetime.now(UTC)
    state = derive_state(convert.conditions_from_json(conditions), generation, deleting=deleting)
    return _Stamp(state_label(state), is_reconciling(state), now, _etag(uid, generation, now))


def _etag(uid: str, generation: int, when: datetime) -> str:
    return hashlib.sha256(f"{uid}:{generation}:{when.isoformat()}".encode()).hexdigest()[:20]


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
