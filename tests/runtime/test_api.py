"""The API conventions end to end through a real gRPC call to the toy service."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2, status_pb2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from tests.runtime.conftest import ALICE, Toy, identity
from tests.runtime.toy_service.tables import ApplicationRow
from threeport.common.v1alpha1 import state_pb2, watch_pb2
from threeport.registry.v1alpha1 import application_pb2 as pb
from threeport.registry.v1alpha1 import application_pb2_grpc
from threeport_runtime.rpc.client import service_channel
from threeport_runtime.testing import TEST_CREDENTIAL, wait_until


def new_app(image: str = "nginx:1", **dependencies: str) -> pb.Application:
    app = pb.Application(labels={"team": "payments"})
    app.spec.components["web"].image = image
    for name, kind in dependencies.items():
        app.spec.dependencies[name].type = kind
    return app


def details(error: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.BadRequest]:
    status = status_pb2.Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(bad_request.DESCRIPTOR):
            detail.Unpack(bad_request)
    return info, bad_request


async def count_rows(database_url: str) -> int:
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(ApplicationRow))
    await engine.dispose()
    return int(count or 0)


async def create(toy: Toy, app_id: str, app: pb.Application, request_id: str = "") -> pb.Application:
    request = pb.CreateApplicationRequest(
        parent="projects/acme", application_id=app_id, application=app, request_id=request_id
    )
    return await toy.stub.CreateApplication(request, metadata=ALICE)


async def test_create_converges_to_ready_and_is_watchable(toy: Toy) -> None:
    watch = toy.stub.WatchApplications(pb.WatchApplicationsRequest(parent="projects/acme"), metadata=ALICE)
    created = await create(toy, "shop", new_app(db="postgres", cache="redis"))
    assert created.reconciling and created.generation == 1 and created.state == state_pb2.STATE_PENDING

    async def ready() -> pb.Application | None:
        app = await toy.stub.GetApplication(pb.GetApplicationRequest(name=created.name), metadata=ALICE)
        return app if app.state == state_pb2.STATE_READY else None

    app = await wait_until(ready, what="Ready")
    assert list(app.status.dependency_types) == ["postgres", "redis"]
    assert not app.reconciling

    async def converged_events() -> list[tuple[str, str, int]] | None:
        # The reconciler records the Event after the status write that made the app Ready, so a
        # read can see Ready first.
        events, _ = await toy.service.runtime.event_lister().list(parent=created.name, filter_text="type = NORMAL")
        return [(e.reason, e.resource, e.count) for e in events] or None

    assert await wait_until(converged_events, what="the Converged event") == [("Converged", created.name, 1)]

    seen: list[tuple[int, pb.Application]] = []
    async for response in watch:
        if response.type != watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT:
            seen.append((response.type, response.application))
        if response.application.state == state_pb2.STATE_READY:
            break
    assert seen[0][0] == watch_pb2.WATCH_EVENT_TYPE_ADDED
    assert seen[-1][0] == watch_pb2.WATCH_EVENT_TYPE_MODIFIED
    watch.cancel()


async def test_stale_etag_is_aborted(toy: Toy) -> None:
    created = await create(toy, "ledger", new_app())
    first = pb.Application(name=created.name, etag=created.etag)
    first.spec.CopyFrom(new_app("nginx:2").spec)
    updated = await toy.stub.UpdateApplication(pb.UpdateApplicationRequest(application=first), metadata=ALICE)
    assert updated.generation == 2

    stale = pb.Application(name=created.name, etag=created.etag)
    stale.spec.CopyFrom(new_app("nginx:3").spec)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await toy.stub.UpdateApplication(pb.UpdateApplicationRequest(application=stale), metadata=ALICE)
    assert raised.value.code() == grpc.StatusCode.ABORTED
    assert details(raised.value)[0].reason == "ETAG_MISMATCH"

    relabel = pb.Application(name=created.name, labels={"team": "risk"})
    mask = field_mask_pb2.FieldMask(paths=["labels"])
    relabelled = await toy.stub.UpdateApplication(
        pb.UpdateApplicationRequest(application=relabel, update_mask=mask), metadata=ALICE
    )
    assert relabelled.generation == 2, "a label change must not bump the generation"
    assert relabelled.labels["team"] == "risk"
    assert relabelled.spec.components["web"].image == "nginx:2"


async def test_retried_create_with_request_id_returns_the_same_object(toy: Toy, migrated_database: str) -> None:
    first, second = await asyncio.gather(
        create(toy, "api", new_app(), request_id="req-1"), create(toy, "api", new_app(), request_id="req-1")
    )
    again = await create(toy, "api", new_app(), request_id="req-1")
    assert first.uid == second.uid == again.uid
    assert await count_rows(migrated_database) == 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create(toy, "api", new_app(), request_id="req-2")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_retries_racing_their_first_attempt_all_return_that_object(
    toy: Toy, migrated_database: str
) -> None:
    """The race CI once hit: a client retries before its first attempt answered, so attempts of
    one request run at once. Whichever commits first writes the row; the others' inserts write
    nothing (ON CONFLICT, after waiting for that commit) and they answer with its object."""
    first, *others = await asyncio.gather(*(create(toy, "api", new_app(), request_id="req-1") for _ in range(4)))
    assert all(other.uid == first.uid for other in others)
    assert await count_rows(migrated_database) == 1


async def test_bad_input_is_invalid_argument_with_field_violations_and_writes_nothing(
    toy: Toy, migrated_database: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create(toy, "Bad_Name", new_app(image=""))
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, bad_request = details(error)
    assert info.reason == "INVALID_FIELDS" and info.domain == "threeport.io"
    assert {v.field for v in bad_request.field_violations} == {"application_id"}

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create(toy, "good", new_app(image=""))
    _, bad_request = details(raised.value)
    assert [v.field for v in bad_request.field_violations] == ["application.spec.components[web].image"]
    assert "Traceback" not in (raised.value.details() or "")
    assert await count_rows(migrated_database) == 0


async def test_list_pages_and_filters(toy: Toy) -> None:
    for index in range(5):
        app = new_app()
        app.labels["tier"] = "gold" if index % 2 == 0 else "silver"
        await create(toy, f"app-{index}", app)
    names: list[str] = []
    token = ""
    while True:
        page = await toy.stub.ListApplications(
            pb.ListApplicationsRequest(
                parent="projects/acme", page_size=2, page_token=token, filter='labels.tier = "gold"'
            ),
            metadata=ALICE,
        )
        names += [a.name for a in page.applications]
        token = page.next_page_token
        if not token:
            break
    assert names == [f"projects/acme/applications/app-{i}" for i in (0, 2, 4)]

    first = await toy.stub.ListApplications(
        pb.ListApplicationsRequest(parent="projects/acme", page_size=2), metadata=ALICE
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await toy.stub.ListApplications(
            pb.ListApplicationsRequest(
                parent="projects/acme", page_token=first.next_page_token, filter="state = READY"
            ),
            metadata=ALICE,
        )
    assert details(raised.value)[0].reason == "INVALID_PAGE_TOKEN"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await toy.stub.ListApplications(
            pb.ListApplicationsRequest(parent="projects/acme", filter="colour = red"), metadata=ALICE
        )
    assert details(raised.value)[0].reason == "INVALID_FILTER"


async def test_delete_waits_for_the_finalizer_then_the_row_goes(toy: Toy) -> None:
    created = await create(toy, "temp", new_app())

    async def has_finalizer_and_ready() -> bool:
        app = await toy.stub.GetApplication(pb.GetApplicationRequest(name=created.name), metadata=ALICE)
        return app.state == state_pb2.STATE_READY

    await wait_until(has_finalizer_and_ready, what="Ready")
    deleting = await toy.stub.DeleteApplication(pb.DeleteApplicationRequest(name=created.name), metadata=ALICE)
    assert deleting.state == state_pb2.STATE_DELETING and deleting.HasField("delete_time")

    async def gone() -> bool:
        try:
            await toy.stub.GetApplication(pb.GetApplicationRequest(name=created.name), metadata=ALICE)
        except grpc.aio.AioRpcError as error:
            return error.code() == grpc.StatusCode.NOT_FOUND
        return False

    await wait_until(gone, what="the finalizer to be removed and the row deleted")


async def test_a_watch_reports_a_deleted_resource_as_it_last_sent_it(toy: Toy) -> None:
    created = await create(toy, "gone-soon", new_app(image="nginx:7"))

    async def ready() -> bool:
        app = await toy.stub.GetApplication(pb.GetApplicationRequest(name=created.name), metadata=ALICE)
        return app.state == state_pb2.STATE_READY

    await wait_until(ready, what="Ready")
    watch = toy.stub.WatchApplications(pb.WatchApplicationsRequest(parent="projects/acme"), metadata=ALICE)
    last_sent: dict[str, pb.Application] = {}
    delete_asked = False
    async with asyncio.timeout(30):
        async for response in watch:
            if response.type == watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT:
                if created.name in last_sent and not delete_asked:
                    await toy.stub.DeleteApplication(pb.DeleteApplicationRequest(name=created.name), metadata=ALICE)
                    delete_asked = True
                continue
            if response.type == watch_pb2.WATCH_EVENT_TYPE_DELETED and response.application.name == created.name:
                # The server keeps what it sent serialized and deflated; the DELETED copy is still whole.
                assert response.application == last_sent[created.name]
                assert response.application.spec.components["web"].image == "nginx:7"
                break
            last_sent[response.application.name] = response.application
    watch.cancel()


async def test_identity_and_policies_come_from_the_annotations(toy: Toy) -> None:
    get = pb.GetApplicationRequest(name="projects/acme/applications/none")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await toy.stub.GetApplication(get, metadata=[("authorization", "Service wrong-credential-xxxxxxxx")])
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await toy.stub.GetApplication(
            get, metadata=[("x-threeport-principal", "mallory"), ("x-threeport-roles", "operator")]
        )
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    viewer = identity("vic", "viewer@projects/acme")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create_as(toy, viewer)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    other_project = identity("olga", "admin@projects/other")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await toy.stub.GetApplication(get, metadata=other_project)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for allowed in (identity("op", "operator"), identity(), identity("vic", "viewer@projects/acme")):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await toy.stub.GetApplication(get, metadata=allowed)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def create_as(toy: Toy, metadata: list[tuple[str, str]]) -> pb.Application:
    request = pb.CreateApplicationRequest(parent="projects/acme", application_id="x", application=new_app())
    return await toy.stub.CreateApplication(request, metadata=metadata)


async def test_service_channels_authenticate_unary_and_streaming_calls(toy: Toy) -> None:
    channel = service_channel(f"127.0.0.1:{toy.service.port}", service_name="delivery", credential=TEST_CREDENTIAL)
    stub = application_pb2_grpc.ApplicationServiceStub(channel)
    try:
        created = await stub.CreateApplication(
            pb.CreateApplicationRequest(parent="projects/acme", application_id="viaservice", application=new_app())
        )
        watch = stub.WatchApplications(pb.WatchApplicationsRequest(parent="projects/acme"))
        first = await anext(aiter(watch))
        assert first.type == watch_pb2.WATCH_EVENT_TYPE_ADDED and first.application.name == created.name
        watch.cancel()
    finally:
        await channel.close()


@pytest.mark.parametrize("position", ["18446744073709551616-0", "0-18446744073709551616", "1-x"])
async def test_a_resume_position_no_stream_can_hold_is_invalid_at_once(toy: Toy, position: str) -> None:
    """Redis refuses stream ids beyond 64 bits; that must read as bad input, not a stream outage
    (UNAVAILABLE would have the client retry it for ever)."""
    watch: Any = toy.stub.WatchApplications(
        pb.WatchApplicationsRequest(parent="projects/acme", resource_version=position), metadata=tuple(ALICE))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await anext(aiter(watch))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "resource_version" in (raised.value.details() or "")


async def test_the_largest_resume_position_is_accepted(toy: Toy) -> None:
    top = "18446744073709551615-18446744073709551615"
    watch: Any = toy.stub.WatchApplications(
        pb.WatchApplicationsRequest(parent="projects/acme", resource_version=top), metadata=tuple(ALICE))
    responses = aiter(watch)
    for _ in range(2):  # the end of the (skipped) initial list, then one read of the stream
        response = await asyncio.wait_for(anext(responses), 30)
        assert response.type == watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT
    watch.cancel()
