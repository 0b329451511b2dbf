"""wait_ready: Ready TRUE for the current generation, early failure, and a timeout with context."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.protobuf.message import Message

from threeport.common.v1alpha1 import condition_pb2, state_pb2
from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.sdk import AsyncClient, Client, ResourceFailedError, WaitTimeoutError, readiness

from .fake_registry import FakeApplicationService, application

SHOP = "projects/acme/applications/shop"
TRUE, FALSE, UNKNOWN = (
    condition_pb2.CONDITION_STATUS_TRUE,
    condition_pb2.CONDITION_STATUS_FALSE,
    condition_pb2.CONDITION_STATUS_UNKNOWN,
)
# Long enough that a test only reaches it when the behaviour under test is broken.
NEVER = 60.0


def _converging_script() -> list[app_pb2.Application]:
    return [
        application(SHOP, generation=2, observed_generation=1, step="reconciling"),
        application(SHOP, generation=2, observed_generation=1, ready=TRUE, step="lagging"),
        application(
            SHOP, generation=2, ready=TRUE, reconciling=False, state=state_pb2.STATE_READY, step="ready"
        ),
    ]


def test_ready_after_watch_events_skipping_a_lagging_generation(
    client: Client, fake: FakeApplicationService
) -> None:
    fake.store[SHOP] = application(SHOP, generation=2, observed_generation=1, step="created")
    fake.watch_script = _converging_script()

    ready = client.application.wait_ready(SHOP, timeout=NEVER)

    assert ready.labels["step"] == "ready"
    watch = fake.seen.requests["WatchApplications"][0]
    assert watch.parent == "projects/acme"  # type: ignore[attr-defined]
    assert watch.filter == f'name = "{SHOP}"'  # type: ignore[attr-defined]


def test_generic_wait_ready_finds_the_type_from_the_name(
    client: Client, fake: FakeApplicationService
) -> None:
    fake.store[SHOP] = application(SHOP)
    fake.watch_script = _converging_script()

    ready = client.wait_ready(SHOP, timeout=NEVER)

    assert isinstance(ready, app_pb2.Application)
    assert ready.labels["step"] == "ready"


def test_times_out_with_the_last_conditions(client: Client, fake: FakeApplicationService) -> None:
    fake.store[SHOP] = application(SHOP, generation=3, observed_generation=3, ready=UNKNOWN, reason="Placing")
    fake.watch_blocks = True

    with pytest.raises(WaitTimeoutError) as caught:
        client.application.wait_ready(SHOP, timeout=0.5)

    error = caught.value
    assert error.name == SHOP
    assert [c.reason for c in error.conditions] == ["Placing"]
    assert SHOP in str(error) and "Ready=UNKNOWN (Placing)" in str(error)
    assert isinstance(error, TimeoutError)


def test_a_lagging_observed_generation_is_not_ready(client: Client, fake: FakeApplicationService) -> None:
    fake.store[SHOP] = application(SHOP, generation=5, observed_generation=4, ready=TRUE, reconciling=False)
    fake.watch_blocks = True

    with pytest.raises(WaitTimeoutError):
        client.application.wait_ready(SHOP, timeout=0.5)


def test_failed_state_raises_at_once(client: Client, fake: FakeApplicationService) -> None:
    fake.store[SHOP] = application(
        SHOP, ready=FALSE, reason="ImagePullBackOff", reconciling=True, state=state_pb2.STATE_FAILED
    )
    fake.watch_blocks = True

    with pytest.raises(ResourceFailedError) as caught:
        client.application.wait_ready(SHOP, timeout=NEVER)

    assert caught.value.reason == "ImagePullBackOff"
    assert caught.value.state == state_pb2.STATE_FAILED


def test_ready_false_after_reconciling_stopped_raises_at_once(
    client: Client, fake: FakeApplicationService
) -> None:
    fake.store[SHOP] = application(SHOP, ready=UNKNOWN)
    fake.watch_script = [application(SHOP, ready=FALSE, reason="NoProvider", reconciling=False)]
    fake.watch_blocks = True

    with pytest.raises(ResourceFailedError) as caught:
        client.application.wait_ready(SHOP, timeout=NEVER)

    assert caught.value.reason == "NoProvider"


def test_get_again_when_the_watch_stream_ends(client: Client, fake: FakeApplicationService) -> None:
    fake.get_script.extend(
        [application(SHOP, ready=UNKNOWN), application(SHOP, ready=TRUE, step="second-get")]
    )

    ready = client.application.wait_ready(SHOP, timeout=NEVER, poll_interval=0.01)

    assert ready.labels["step"] == "second-get"
    assert len(fake.seen.requests["GetApplication"]) == 2


async def test_async_wait_ready(async_client: AsyncClient, fake: FakeApplicationService) -> None:
    fake.store[SHOP] = application(SHOP, generation=2, observed_generation=1)
    fake.watch_script = _converging_script()

    ready = await async_client.application.wait_ready(SHOP, timeout=NEVER)

    assert ready.labels["step"] == "ready"


async def test_async_wait_ready_times_out(async_client: AsyncClient, fake: FakeApplicationService) -> None:
    fake.store[SHOP] = application(SHOP, ready=UNKNOWN, reason="Placing")
    fake.watch_blocks = True

    with pytest.raises(WaitTimeoutError) as caught:
        await async_client.application.wait_ready(SHOP, timeout=0.5)

    assert [c.reason for c in caught.value.conditions] == ["Placing"]


def test_polling_without_watch_returns_the_first_ready_version() -> None:
    versions: Iterator[app_pb2.Application] = iter(
        [
            application(SHOP, generation=2, observed_generation=1, ready=TRUE, step="lagging"),
            application(SHOP, generation=2, ready=UNKNOWN, step="working"),
            application(SHOP, generation=2, ready=TRUE, step="ready"),
        ]
    )

    def get(remaining: float) -> app_pb2.Application:
        return next(versions)

    ready = readiness.wait_ready(
        SHOP, get=get, watch=None, resource_field="application", timeout=NEVER, poll_interval=0
    )

    assert ready.labels["step"] == "ready"


@pytest.mark.parametrize(
    ("resource", "terminal", "expected"),
    [
        (application(SHOP, ready=TRUE), (), readiness.Verdict(ready=True)),
        (application(SHOP, generation=2, observed_generation=1, ready=TRUE), (), readiness.Verdict()),
        (application(SHOP, ready=FALSE, reason="Waiting", reconciling=True), (), readiness.Verdict()),
        (
            application(SHOP, ready=FALSE, reason="QuotaExceeded", reconciling=True),
            ("QuotaExceeded",),
            readiness.Verdict(failed=True, reason="QuotaExceeded", message="Ready is CONDITION_STATUS_FALSE"),
        ),
        (
            application(SHOP, state=state_pb2.STATE_DELETING),
            (),
            readiness.Verdict(failed=True, reason="Deleting", message="the resource is being deleted"),
        ),
    ],
)
def test_readiness_rule(resource: Message, terminal: tuple[str, ...], expected: readiness.Verdict) -> None:
    assert readiness.assess(resource, terminal) == expected
