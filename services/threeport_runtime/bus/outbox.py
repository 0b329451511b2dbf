"""Writes change events into the service's outbox inside the caller's transaction.

Because the event row commits or rolls back with the change itself, a crash between commit and
publish loses nothing: the relay publishes whatever is in the outbox when it next runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Select, func, insert
from sqlalchemy.ext.asyncio import AsyncSession

from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime.bus.streams import resource_stream
from threeport_runtime.db.schema import ServiceSchema
from threeport_runtime.telemetry import current_traceparent


class Outbox:
    def __init__(self, schema: ServiceSchema, *, service: str, stream_prefix: str):
        self._schema = schema
        self._service = service
        self._stream_prefix = stream_prefix

    def stream_for(self, resource_type: str) -> str:
        return resource_stream(self._stream_prefix, resource_type)

    async def add(self, session: AsyncSession, event: change_event_pb2.ChangeEvent) -> None:
        """Adds ``event`` (from ``event(...)``) to the session's transaction and wakes the relays
        on commit."""
        await session.execute(self._notifying(
            insert(self._schema.outbox)
            .values(stream=self.stream_for(event.resource_type), resource=event.name, payload=event.SerializeToString())
        ))

    def event(
        self,
        *,
        resource_type: str,
        name: str,
        uid: str,
        generation: int,
        change: change_event_pb2.ChangeType.ValueType,
        attributes: Mapping[str, str] | None = None,
        owner: str = "",
    ) -> change_event_pb2.ChangeEvent:
        """A change event of this service, committed now: for ``add``, or for a statement that
        inserts it itself (``insert_selected``)."""
        event = change_event_pb2.ChangeEvent(
            resource_type=resource_type,
            name=name,
            uid=uid,
            generation=generation,
            change=change,
            traceparent=current_traceparent(),
            source=self._service,
            attributes=dict(attributes or {}),
            owner=owner,
        )
        event.commit_time.FromDatetime(datetime.now(UTC))
        return event

    def insert_selected(self, rows: Select[Any]) -> Insert:
        """An insert of the events ``rows`` selects (stream, resource, payload: what ``add``
        writes), for a statement that writes its change and its event at once (a CTE)."""
        return self._notifying(insert(self._schema.outbox).from_select(["stream", "resource", "payload"], rows))

    def _notifying(self, statement: Insert) -> Insert:
        # NOTIFY is delivered at commit, so relays never wake for a change that rolled back. It is
        # sent by the insert itself (its RETURNING clause), not by a statement of its own: one
        # round trip per event, and notifications of one transaction fold into one.
        return statement.returning(func.pg_notify(self._schema.outbox_channel, ""))
