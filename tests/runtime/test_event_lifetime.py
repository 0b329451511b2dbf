"""Events live as long as their resource, against real PostgreSQL: removing the row removes its
events in the same transaction, and an event recorded after the row went (a reconcile still
running when its resource was deleted) is not stored, so a resource re-created under the same
name starts with no history."""

from __future__ import annotations

import asyncio
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


def parts(db: Database, stream_prefix: str) -> tuple[Any, EventRecorder, EventLister, application_pb2.Application]:
    """A repository of the toy service, a recorder and a lister of its events, an application."""
    app = application_pb2.Application()
    app.spec.components["web"].image = "nginx:1"
    return (standalone_repository(db, stream_prefix), EventRecorder(db, SCHEMA, source="toy/test"),
            EventLister(db, SCHEMA, PageTokenCodec(b"0123456789abcdef")), app)


async def test_a_removed_resource_takes_its_events_and_records_none_after(db: Database, stream_prefix: str) -> None:
    repository, recorder, lister, app = parts(db, stream_prefix)
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


async def test_recording_builds_no_statement(db: Database, stream_prefix: str, monkeypatch: Any) -> None:
    """The upsert is built once per recorder: building it per record (its ``excluded`` alias above
    all) was ~10% of workload-delivery's CPU while 10,000 deployments converged."""
    repository, recorder, lister, app = parts(db, stream_prefix)
    created = await repository.create(app, name=NAME)

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a statement was built to record an event")

    with monkeypatch.context() as patched:
        patched.setattr("threeport_runtime.reconcile.events.insert", refuse)
        patched.setattr("threeport_runtime.reconcile.events.select", refuse)
        for _ in range(2):
            await recorder.record(resource=NAME, resource_uid=created.uid, type=NORMAL, reason="Placed", message="here")
    events, _ = await lister.list(parent=NAME)
    assert [(e.reason, e.count) for e in events] == [("Placed", 2)]


async def test_an_event_recorded_while_its_resource_is_being_removed_is_not_kept(
    db: Database, stream_prefix: str
) -> None:
    """The removal's transaction has deleted the row and its events but not committed yet when a
    reconcile records an event: the event must not outlive the commit (a recorder that looked for
    the row in its own snapshot still saw it, and left an event no resource owns)."""
    repository, recorder, lister, app = parts(db, stream_prefix)
    created = await repository.create(app, name=NAME)
    table = SCHEMA.metadata.tables["toy.applications"]
    async with db.session() as session, session.begin():
        await session.execute(table.delete().where(table.c.name == NAME))
        await session.execute(SCHEMA.events.delete().where(SCHEMA.events.c.resource == NAME))
        late = asyncio.create_task(recorder.record(
            resource=NAME, resource_uid=created.uid, type=NORMAL, reason="Late", message="mid-removal"))
        await asyncio.sleep(0.5)  # the recorder waits for the removal to end, whichever way it ends
        assert not late.done()
    await asyncio.wait_for(late, 10)
    assert await reasons(lister) == []
