"""Events live as long as their resource, against real PostgreSQL: removing the row removes its
events in the same transaction, and an event recorded after the row went (a reconcile still
running when its resource was deleted) is not stored, so a resource re-created under the same
name starts with no history."""

from __future__ import annotations

from typing import Any

from tests.runtime.toy_service.crash_writer import standalone_repository
from tests.runtime.toy_service.tables import SCHEMA
from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime.db.engine import Database
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.reconcile.events import NORMAL, EventLister, EventRecorder

NAME = "projects/acme/applications/brief"


async def reasons(lister: EventLister) -> list[str]:
    events, _ = await lister.list(parent=NAME)
    return [event.reason for event in events]


async def test_a_removed_resource_takes_its_events_and_records_none_after(db: Database, stream_prefix: str) -> None:
    repository: Any = standalone_repository(db, stream_prefix)
    recorder = EventRecorder(db, SCHEMA, source="toy/test")
    lister = EventLister(db, SCHEMA, PageTokenCodec(b"0123456789abcdef"))
    app = application_pb2.Application()
    app.spec.components["web"].image = "nginx:1"
    first = await repository.create(app, name=NAME)
    await recorder.record(resource=NAME, resource_uid=first.uid, type=NORMAL, reason="Accepted", message="ok")
    assert await reasons(lister) == ["Accepted"]

    await repository.delete(NAME)
    assert await reasons(lister) == []
    # A reconcile of the old resource that was still running records its outcome late.
    await recorder.record(resource=NAME, resource_uid=first.uid, type=NORMAL, reason="Late", message="too late")
    await recorder.record(resource=NAME, resource_uid="not-a-uid", type=NORMAL, reason="Odd", message="no such")
    assert await reasons(lister) == []

    again = await repository.create(app, name=NAME)
    assert await reasons(lister) == []
    await recorder.record(resource=NAME, resource_uid=again.uid, type=NORMAL, reason="Accepted", message="ok")
    await recorder.record(resource=NAME, resource_uid=again.uid, type=NORMAL, reason="Accepted", message="ok")
    events, _ = await lister.list(parent=NAME)
    assert [(e.reason, e.resource_uid, e.count) for e in events] == [("Accepted", again.uid, 2)]
