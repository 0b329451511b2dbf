"""Writes change events into the service's outbox inside the caller's transaction.

Because the event row commits or rolls back with the change itself, a crash between commit and
publish loses nothing: the relay publishes whatever is in the outbox when it next runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import func, insert
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

    async def add(
        self,
        session: AsyncSession,
        *,
        resource_type: str,
        name: str,
        uid: str,
        generation: int,
        change: change_event_pb2.ChangeType.ValueType,
        attributes: Mapping[str, str] | None = None,
        owner: str = "",
    ) -> change_event_pb2.ChangeEvent:
        """Adds one event to the session's transaction and wakes the relays on commit."""
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
        # NOTIFY is delivered at commit, so relays never wake for a change that rolled back. It is
        # sent by the insert itself (its RETURNING clause), not by a statement of its own: one
        # round trip per event, and notifications of one transaction fold into one.
        await session.execute(
            insert(self._schema.outbox)
            .values(stream=self.stream_for(resource_type), resource=name, payload=event.SerializeToString())
            .returning(func.pg_notify(self._schema.outbox_channel, ""))
        )
        return event
