"""Storage of releases: numbered, immutable snapshots per deployment.

Numbers come from ``max(number) + 1`` under the unique (deployment, number) constraint, so two
writers can never both create release N; the loser gets ``ReleaseConflict`` and the reconcile
is retried. Only the approval fields of a release ever change after it is written. Every write
publishes a change event (``threeport.delivery.v1alpha1.Release``: CREATED, UPDATED when it is
approved or superseded) through the outbox, in the same transaction, like every other write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from sqlalchemy import Row, bindparam, delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from threeport.common.v1alpha1 import change_event_pb2
from threeport.delivery.v1alpha1 import release_pb2
from threeport_runtime.bus.outbox import Outbox
from threeport_runtime.db import json_documents
from threeport_runtime.db.convert import timestamp
from threeport_runtime.db.engine import Database
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.db.plain_reads import PlainRead
from threeport_runtime.db.repository import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parent_clause
from threeport_runtime.errors import FieldViolation, InvalidArgument, NotFound
from threeport_runtime.reconcile.result import TemporaryError
from threeport_workload_delivery.store.tables import ReleaseRow


class ReleaseConflict(TemporaryError):
    """Another writer created the same release number first."""


@dataclass(frozen=True)
class StoredRelease:
    release: release_pb2.Release
    snapshot: dict[str, Any]
    fingerprint: str
    change_id: str


def _stored(row: ReleaseRow | Row[Any]) -> StoredRelease:
    # Stored by MessageToDict with JSON names; read like ParseDict, without its cost (~160 us
    # for a release, and a reconcile reads every release of its deployment).
    message = json_documents.parse(row.message, release_pb2.Release())
    return StoredRelease(message, row.snapshot, row.fingerprint, row.change_id)


# Every release of a deployment, oldest first: built once, read on every reconcile (``Database.fetch``).
_HISTORY = PlainRead(select(ReleaseRow.__table__).where(ReleaseRow.__table__.c.deployment == bindparam("deployment"))
                     .order_by(ReleaseRow.__table__.c.number))

RESOURCE_TYPE = release_pb2.Release.DESCRIPTOR.full_name


@dataclass(frozen=True)
class ReleaseHistory:
    """Every release of a deployment, oldest first, as one read found them: a reconcile asks it
    for the newest, the one to run, the one a number or change names, instead of the database."""

    releases: tuple[StoredRelease, ...]
    # The newest release of this incarnation of the deployment (its uid): a deployment
    # re-created under an old name starts again.
    latest: StoredRelease | None

    def number(self, number: int) -> StoredRelease | None:
        return next((r for r in self.releases if r.release.number == number), None)

    def by_change(self, change_id: str) -> StoredRelease | None:
        return next((r for r in self.releases if change_id and r.change_id == change_id), None)

    def with_new(self, stored: StoredRelease) -> ReleaseHistory:
        """The history once ``stored`` (just written, the newest) is in it."""
        return ReleaseHistory((*self.releases, stored), stored)


class ReleaseStore:
    def __init__(self, db: Database, page_tokens: PageTokenCodec, outbox: Outbox):
        self._db = db
        self._page_tokens = page_tokens
        self._outbox = outbox

    @property
    def stream(self) -> str:
        """The stream release change events are published to."""
        return self._outbox.stream_for(RESOURCE_TYPE)

    async def _event(
        self, session: AsyncSession, row: ReleaseRow, change: change_event_pb2.ChangeType.ValueType
    ) -> None:
        await self._outbox.add(session, self._outbox.event(resource_type=RESOURCE_TYPE, name=row.name,
                                                           uid=str(row.uid), generation=row.number, change=change))

    async def history(self, deployment: str, deployment_uid: str) -> ReleaseHistory:
        """Every release of the deployment in one plain read (what ``all`` and ``latest`` say)."""
        rows = await self._db.fetch(_HISTORY, {"deployment": deployment})
        releases = tuple(_stored(row) for row in rows)
        own = [stored for row, stored in zip(rows, releases, strict=True) if row.deployment_uid == deployment_uid]
        return ReleaseHistory(releases, own[-1] if own else None)

    async def latest(self, deployment: str, deployment_uid: str) -> StoredRelease | None:
        async with self._db.read_session() as session:
            row = await session.scalar(
                select(ReleaseRow)
                .where(ReleaseRow.deployment == deployment, ReleaseRow.deployment_uid == deployment_uid)
                .order_by(ReleaseRow.number.desc())
                .limit(1)
            )
            return None if row is None else _stored(row)

    async def get_number(self, deployment: str, number: int) -> StoredRelease | None:
        async with self._db.read_session() as session:
            row = await session.scalar(
                select(ReleaseRow).where(ReleaseRow.deployment == deployment, ReleaseRow.number == number)
            )
            return None if row is None else _stored(row)

    async def by_change(self, deployment: str, change_id: str) -> StoredRelease | None:
        if not change_id:
            return None
        async with self._db.read_session() as session:
            row = await session.scalar(
                select(ReleaseRow).where(ReleaseRow.deployment == deployment, ReleaseRow.change_id == change_id)
            )
            return None if row is None else _stored(row)

    async def get(self, name: str) -> release_pb2.Release:
        async with self._db.read_session() as session:
            row = await session.scalar(select(ReleaseRow).where(ReleaseRow.name == name))
        if row is None:
            raise NotFound(f"release {name!r} not found", metadata={"resource": name})
        return _stored(row).release

    async def all(self, deployment: str) -> list[StoredRelease]:
        return list((await self.history(deployment, "")).releases)

    async def list(
        self, deployment: str, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[release_pb2.Release], str]:
        """A page in release-number order; ``projects/P/deployments/-`` lists every deployment's
        releases (AIP-159), by deployment then number."""
        if page_size < 0:
            raise InvalidArgument.for_fields([FieldViolation("page_size", "must not be negative")])
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        fingerprint = PageTokenCodec.fingerprint("releases", deployment)
        query = select(ReleaseRow).where(parent_clause(ReleaseRow.deployment, deployment))
        if page_token:
            after_deployment, after_number = self._page_tokens.decode(page_token, fingerprint).rsplit(" ", 1)
            after = (after_deployment, int(after_number))
            query = query.where(tuple_(ReleaseRow.deployment, ReleaseRow.number) > after)
        async with self._db.read_session() as session:
            ordered = query.order_by(ReleaseRow.deployment, ReleaseRow.number).limit(size + 1)
            rows = list((await session.scalars(ordered)).all())
        next_token = ""
        if len(rows) > size:
            rows = rows[:size]
            next_token = self._page_tokens.encode(f"{rows[-1].deployment} {rows[-1].number}", fingerprint)
        return [_stored(row).release for row in rows], next_token

    async def create_next(
        self,
        *,
        deployment: str,
        deployment_uid: str,
        release: release_pb2.Release,
        snapshot: dict[str, Any],
        fingerprint: str,
        change_id: str,
    ) -> StoredRelease:
        """Writes the next numbered release; older releases still pending approval are superseded."""
        now = datetime.now(UTC)
        try:
            async with self._db.session() as session, session.begin():
                # Every release of the deployment, locked: the pending ones are superseded below,
                # and the highest number is among them (the unique constraint stops a concurrent one).
                earlier = (
                    await session.scalars(
                        select(ReleaseRow).where(ReleaseRow.deployment == deployment).with_for_update()
                    )
                ).all()
                number = max((row.number for row in earlier), default=0) + 1
                message = release_pb2.Release()
                message.CopyFrom(release)
                message.name = f"{deployment}/releases/{number}"
                message.uid = str(uuid.uuid4())
                message.number = number
                message.create_time.CopyFrom(timestamp(now))
                for row in earlier:
                    if row.message.get("approval") == "APPROVAL_STATE_PENDING":
                        row.message = {**row.message, "approval": "APPROVAL_STATE_SUPERSEDED"}
                        await self._event(session, row, change_event_pb2.CHANGE_TYPE_UPDATED)
                row_new = ReleaseRow(
                    uid=uuid.UUID(message.uid),
                    name=message.name,
                    deployment=deployment,
                    deployment_uid=deployment_uid,
                    number=number,
                    create_time=now,
                    message=json_format.MessageToDict(message),
                    snapshot=snapshot,
                    fingerprint=fingerprint,
                    change_id=change_id,
                )
                session.add(row_new)
                await session.flush()
                await self._event(session, row_new, change_event_pb2.CHANGE_TYPE_CREATED)
        except IntegrityError:
            raise ReleaseConflict(f"release number of {deployment} was taken concurrently") from None
        return StoredRelease(message, snapshot, fingerprint, change_id)

    async def approve(self, deployment: str, number: int, approved_by: str) -> release_pb2.Release:
        async with self._db.session() as session, session.begin():
            row = await session.scalar(
                select(ReleaseRow)
                .where(ReleaseRow.deployment == deployment, ReleaseRow.number == number)
                .with_for_update()
            )
            if row is None:
                raise NotFound(f"{deployment} has no release {number}")
            row.message = {**row.message, "approval": "APPROVAL_STATE_APPROVED", "approvedBy": approved_by}
            await self._event(session, row, change_event_pb2.CHANGE_TYPE_UPDATED)
            return _stored(row).release

    async def delete_all(self, deployment: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(ReleaseRow).where(ReleaseRow.deployment == deployment))
