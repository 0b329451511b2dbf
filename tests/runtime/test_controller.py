"""The reconcile engine under failure: replicas, a dying replica, lost events, lost Redis."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from tests.runtime.conftest import ALICE, FAST_CONTROLLERS, keys_only_controller
from tests.runtime.toy_service.replica import CONTROLLER, OPTIONS, running_replica
from tests.runtime.toy_service.service import DEFINITION, applications_of
from threeport.common.v1alpha1 import change_event_pb2, state_pb2
from threeport.registry.v1alpha1 import application_pb2 as pb
from threeport.registry.v1alpha1 import application_pb2_grpc
from threeport.sdk import UnavailableError
from threeport_runtime.bus.streams import PAYLOAD_FIELD, connect_redis, resource_stream
from threeport_runtime.db.engine import Database
from threeport_runtime.reconcile.controller import Controller, ControllerOptions, Watch
from threeport_runtime.reconcile.result import Result
from threeport_runtime.runtime import ServiceRuntime
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.testing import REDIS_URL, PrivateRedis, make_settings, start_test_service, wait_until


def new_app() -> pb.Application:
    app = pb.Application()
    app.spec.components["web"].image = "nginx:1"
    return app


async def test_two_replicas_never_reconcile_one_key_at_once(stream_prefix: str, redis_client: Redis) -> None:
    keys = [f"thing-{i}" for i in range(12)]
    active: set[str] = set()
    overlaps: list[str] = []
    runs: dict[str, int] = {}

    async def reconcile(name: str) -> Result | None:
        if name in active:
            overlaps.append(name)
        active.add(name)
        await asyncio.sleep(0.01)
        active.discard(name)
        runs[name] = runs.get(name, 0) + 1
        return None

    async def all_keys() -> AsyncIterator[str]:
        for key in keys:
            yield key

    options = ControllerOptions(workers=4, resync_interval=0.2, lease_ttl=2.0)
    clients = [connect_redis(REDIS_URL) for _ in range(2)]
    replicas = [
        Controller(
            "pair",
            reconcile,
            redis=client,
            stream_prefix=stream_prefix,
            watches=[Watch(resource_stream(stream_prefix, "test.Thing"))],
            list_keys=all_keys,
            options=options,
        )
        for client in clients
    ]
    tasks = [asyncio.create_task(replica.run()) for replica in replicas]
    try:

        async def every_key_many_times() -> bool:
            return all(runs.get(key, 0) >= 5 for key in keys)

        await wait_until(every_key_many_times, what="each key reconciled repeatedly by the pair")
        assert overlaps == []
    finally:
        await cancel_and_wait(*tasks)
        for client in clients:
            await client.aclose()


async def test_a_replica_that_dies_mid_reconcile_loses_its_lease_and_another_finishes(
    stream_prefix: str, redis_client: Redis
) -> None:
    key = "thing-stuck"
    killed = False
    finished: list[str] = []
    started_while_other_alive: list[str] = []

    async def reconcile(name: str) -> Result | None:
        if not killed:
            started_while_other_alive.append(name)
        finished.append(name)
        return None

    async def keys() -> AsyncIterator[str]:
        yield key

    survivor = Controller(
        CONTROLLER,
        reconcile,
        redis=redis_client,
        stream_prefix=stream_prefix,
        watches=[Watch(resource_stream(stream_prefix, "test.Thing"))],
        list_keys=keys,
        options=OPTIONS,
    )
    async with running_replica(stream_prefix, key) as dying:
        task = None
        try:
            assert dying.stdout is not None
            line = await dying.stdout.readline()
            assert line.strip() == f"reconciling {key}".encode()
            task = asyncio.create_task(survivor.run())
            # Let the survivor try (and fail) to take the lease through a few resyncs.
            await wait_until(lambda: _lease_refused(survivor), what="the survivor to find the lease taken")
            killed = True
            dying.send_signal(signal.SIGKILL)
            await dying.wait()

            async def done() -> bool:
                return key in finished

            await wait_until(done, what="the survivor to finish after the lease expired")
            assert started_while_other_alive == []
        finally:
            if task is not None:
                await cancel_and_wait(task)


async def _lease_refused(controller: Controller) -> bool:
    await asyncio.sleep(0.6)
    return await controller.leases.acquire("thing-stuck") is None


async def test_an_object_whose_event_was_lost_converges_at_the_next_resync(
    migrated_database: str, stream_prefix: str, redis_client: Redis
) -> None:
    settings = make_settings("toy", migrated_database, stream_prefix, resync_interval_seconds=1.0)
    options = ControllerOptions(**{**FAST_CONTROLLERS.__dict__, "resync_interval": 1.0})
    service = await start_test_service(DEFINITION, settings, options)
    # The same table, written by a repository whose events go to a stream nobody reads: the
    # toy controller never hears about this change.
    lost_events = ServiceRuntime(settings.with_overrides(stream_prefix=stream_prefix + "void:"), DEFINITION.schema)
    applications = applications_of(lost_events)
    try:
        created = await applications.create(new_app(), name="projects/acme/applications/unheard")

        async def ready() -> bool:
            return (await applications.get(created.name)).state == state_pb2.STATE_READY

        await wait_until(ready, what="convergence by resync")
    finally:
        await lost_events.close()
        await service.stop(grace=1.0)


async def test_everything_converges_after_redis_restarts_empty(
    migrated_database: str, stream_prefix: str, private_redis: PrivateRedis
) -> None:
    settings = make_settings("toy", migrated_database, stream_prefix, redis_url=private_redis.url)
    service = await start_test_service(DEFINITION, settings, FAST_CONTROLLERS)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
    stub = application_pb2_grpc.ApplicationServiceStub(channel)

    async def create_and_wait(app_id: str) -> None:
        request = pb.CreateApplicationRequest(parent="projects/acme", application_id=app_id, application=new_app())
        created = await stub.CreateApplication(request, metadata=ALICE)

        async def ready() -> bool:
            app = await stub.GetApplication(pb.GetApplicationRequest(name=created.name), metadata=ALICE)
            return app.state == state_pb2.STATE_READY

        await wait_until(ready, what=f"{app_id} Ready")

    try:
        await create_and_wait("before")
        private_redis.restart()
        await create_and_wait("after")
        private_redis.stop()
        request = pb.CreateApplicationRequest(parent="projects/acme", application_id="down", application=new_app())
        await stub.CreateApplication(request, metadata=ALICE)
        private_redis.start()

        async def down_ready() -> bool:
            app = await stub.GetApplication(
                pb.GetApplicationRequest(name="projects/acme/applications/down"), metadata=ALICE
            )
            return app.state == state_pb2.STATE_READY

        await wait_until(down_ready, what="the app created while Redis was down to converge")
    finally:
        await channel.close()
        await service.stop(grace=1.0)


async def test_an_event_during_a_resync_is_reconciled_before_the_rest_of_the_resync(
    stream_prefix: str, redis_client: Redis
) -> None:
    keys = [f"thing-{index}" for index in range(200)]
    order: list[str] = []
    gate = asyncio.Event()

    async def reconcile(name: str) -> Result | None:
        order.append(name)
        await gate.wait()  # the first reconcile holds the one worker until the events are in
        return None

    async def list_keys() -> AsyncIterator[str]:
        for key in keys:
            yield key

    controller = Controller(
        "prioritised",
        reconcile,
        redis=redis_client,
        stream_prefix=stream_prefix,
        watches=[Watch(f"{stream_prefix}things")],
        list_keys=list_keys,
        options=ControllerOptions(**{**FAST_CONTROLLERS.__dict__, "workers": 1}),
    )
    task = asyncio.create_task(controller.run())
    try:
        # The start-up resync queued every key; the worker holds the first.
        await wait_until(lambda: _holds(len(controller.queue) == len(keys) - 1), what="the resync queued")
        for name in ("thing-150", "unlisted"):  # a change to a key the resync queued, and a new key
            event = change_event_pb2.ChangeEvent(name=name, change=change_event_pb2.CHANGE_TYPE_UPDATED)
            await redis_client.xadd(f"{stream_prefix}things", {PAYLOAD_FIELD: event.SerializeToString()})
        # Events are read in order: once the new key is queued, the other one has moved up.
        await wait_until(lambda: _holds(len(controller.queue) == len(keys)), what="the events queued")
        gate.set()
        await wait_until(lambda: _holds(len(order) == len(keys) + 1), what="every key reconciled")
        assert order[:3] == ["thing-0", "thing-150", "unlisted"]
        assert sorted(order) == sorted([*keys, "unlisted"])  # each once
    finally:
        await cancel_and_wait(task)


async def test_an_event_published_while_the_first_resync_lists_is_not_lost(stream_prefix: str) -> None:
    # A service starting on a fresh bus: its consumer group is created at the end of the stream,
    # so an event published between the start-up resync's list (which does not see the change
    # yet) and the group's creation reached nobody until the next resync (minutes). Redis is slow
    # to create the group here, so that the list runs first unless the resync waits for it.
    stream = f"{stream_prefix}things"
    redis = connect_redis(REDIS_URL)
    create_group = redis.xgroup_create

    async def slow_group_create(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.5)
        return await create_group(*args, **kwargs)

    redis.xgroup_create = slow_group_create  # type: ignore[method-assign]
    reconciled: list[str] = []
    publisher = connect_redis(REDIS_URL)

    async def reconcile(name: str) -> Result | None:
        reconciled.append(name)
        return None

    async def list_keys() -> AsyncIterator[str]:
        # The list sees nothing; the change it missed is published as it returns.
        event = change_event_pb2.ChangeEvent(name="born-after-the-list", change=change_event_pb2.CHANGE_TYPE_CREATED)
        await publisher.xadd(stream, {PAYLOAD_FIELD: event.SerializeToString()})
        for key in ():
            yield key

    controller = Controller("starting", reconcile, redis=redis, stream_prefix=stream_prefix,
                            watches=[Watch(stream)], list_keys=list_keys, options=FAST_CONTROLLERS)
    task = asyncio.create_task(controller.run())
    try:
        await wait_until(lambda: _holds("born-after-the-list" in reconciled), within=10,
                         what="the change published during the first resync reconciled")
    finally:
        await cancel_and_wait(task)
        await redis.aclose()
        await publisher.aclose()


async def _holds(condition: bool) -> bool:
    return condition


async def test_a_reconcile_whose_statement_never_returns_is_cancelled_and_retried(
    database_url: str, stream_prefix: str, redis_client: Redis
) -> None:
    """A reply that never comes must not hold its key forever: past ``reconcile_timeout`` the
    reconcile is cancelled, its statement is cancelled on the server, and the key is retried
    on a connection from the same pool."""
    database = Database(database_url, pool_size=1, max_overflow=0)  # the retry must reuse the connection
    calls: list[str] = []

    async def reconcile(name: str) -> Result | None:
        calls.append(name)
        async with database.read_session() as session:
            # The first attempt waits for a reply that never comes (as a silent connection would).
            seconds = 3600 if len(calls) == 1 else 0
            await session.execute(text(f"SELECT pg_sleep({seconds})"))
        return None

    options = ControllerOptions(**{**FAST_CONTROLLERS.__dict__, "reconcile_timeout": 1.0})
    controller = keys_only_controller("hung", reconcile, ["thing"], redis=redis_client, prefix=stream_prefix,
                                      options=options)
    task = asyncio.create_task(controller.run())
    try:
        await wait_until(lambda: _holds(len(calls) >= 2 and "thing" not in controller.queue),
                         what="the hung reconcile cancelled and the key reconciled again")
        async with database.read_session() as session:
            sleeping = await session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
                " AND query LIKE 'SELECT pg_sleep(3600)%'"))
        assert sleeping == 0, "the cancelled statement still runs on the server"
    finally:
        await cancel_and_wait(task)
        await database.dispose()


async def test_a_service_that_cannot_be_reached_is_a_warning_and_a_bug_is_an_error(
    stream_prefix: str, redis_client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """While the control plane starts, a reconcile may call a service not up yet: that is
    logged as a warning without a traceback, not as an error; anything else keeps its
    traceback at ERROR."""
    failures = {"starting": UnavailableError("UNAVAILABLE: connections to all backends failing"),
                "broken": KeyError("status")}
    attempts: list[str] = []

    async def reconcile(name: str) -> Result | None:
        attempts.append(name)
        if attempts.count(name) == 1:
            raise failures[name]
        return None

    controller = keys_only_controller("levels", reconcile, list(failures), redis=redis_client,
                                      prefix=stream_prefix, options=FAST_CONTROLLERS)
    task = asyncio.create_task(controller.run())
    try:
        with caplog.at_level(logging.INFO, logger="threeport_runtime.reconcile.controller"):
            await wait_until(lambda: _holds(all(attempts.count(key) >= 2 for key in failures)),
                             what="each key failed once and was retried")
    finally:
        await cancel_and_wait(task)
    failed = [record for record in caplog.records if record.getMessage() == "reconcile failed; retrying"]
    starting = next(r for r in failed if "connections to all backends failing" in r.error)  # type: ignore[attr-defined]
    broken = next(r for r in failed if "status" in r.error)  # type: ignore[attr-defined]
    assert starting.levelno == logging.WARNING and not starting.exc_info
    assert broken.levelno == logging.ERROR and broken.exc_info
