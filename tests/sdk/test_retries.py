"""Retry rules: UNAVAILABLE only for idempotent methods or requests with a request_id; a rate limit's
RESOURCE_EXHAUSTED with a retry delay for every call, until the call's deadline or budget."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.sdk import (
    NO_RETRY,
    AsyncClient,
    Client,
    InvalidArgumentError,
    ResourceExhaustedError,
    RetryPolicy,
    UnavailableError,
)

from .conftest import FAST_RETRY
from .fake_registry import FakeApplicationService, FakeServer, rpc_failure, unavailable

SHOP = "projects/acme/applications/shop"


def test_get_is_retried_on_unavailable(client: Client, fake: FakeApplicationService) -> None:
    fake.store[SHOP] = app_pb2.Application(name=SHOP)
    fake.fail_next("GetApplication", unavailable(), unavailable())

    found = client.application.get_application(name=SHOP)

    assert found.name == SHOP
    assert len(fake.seen.requests["GetApplication"]) == 3


def test_retries_stop_after_max_attempts(client: Client, fake: FakeApplicationService) -> None:
    fake.fail_next("GetApplication", *[unavailable()] * 10)

    with pytest.raises(UnavailableError):
        client.application.get_application(name=SHOP)

    assert len(fake.seen.requests["GetApplication"]) == FAST_RETRY.max_attempts


def test_create_without_request_id_is_not_retried(server: FakeServer, fake: FakeApplicationService) -> None:
    fake.fail_next("CreateApplication", unavailable())

    with (
        Client(server.target, retry=FAST_RETRY, auto_request_id=False) as client,
        pytest.raises(UnavailableError),
    ):
        client.application.create_application(parent="projects/acme", application_id="shop")

    assert len(fake.seen.requests["CreateApplication"]) == 1


def test_create_with_request_id_is_retried_with_the_same_id(
    client: Client, fake: FakeApplicationService
) -> None:
    fake.fail_next("CreateApplication", unavailable(), unavailable())

    client.application.create_application(parent="projects/acme", application_id="shop")

    ids = [r.request_id for r in fake.seen.requests["CreateApplication"]]  # type: ignore[attr-defined]
    assert len(ids) == 3
    assert ids[0] and len(set(ids)) == 1


def test_invalid_argument_is_never_retried(client: Client, fake: FakeApplicationService) -> None:
    fake.fail_next("GetApplication", rpc_failure(grpc.StatusCode.INVALID_ARGUMENT, "bad name"))

    with pytest.raises(InvalidArgumentError):
        client.application.get_application(name="nonsense")

    assert len(fake.seen.requests["GetApplication"]) == 1


def test_watch_is_retried_when_it_fails_before_delivering(
    client: Client, fake: FakeApplicationService
) -> None:
    fake.fail_next("WatchApplications", unavailable())

    first = next(iter(client.application.watch_applications(parent="projects/acme")))

    assert first.type != 0
    assert len(fake.seen.requests["WatchApplications"]) == 2


async def test_async_create_is_retried_with_the_same_id(
    async_client: AsyncClient, fake: FakeApplicationService
) -> None:
    fake.fail_next("CreateApplication", unavailable(), unavailable())

    await async_client.application.create_application(parent="projects/acme", application_id="shop")

    ids = {r.request_id for r in fake.seen.requests["CreateApplication"]}  # type: ignore[attr-defined]
    assert len(fake.seen.requests["CreateApplication"]) == 3
    assert len(ids) == 1 and "" not in ids


async def test_async_create_without_request_id_is_not_retried(
    server: FakeServer, fake: FakeApplicationService
) -> None:
    fake.fail_next("CreateApplication", unavailable())

    async with AsyncClient(server.target, retry=FAST_RETRY, auto_request_id=False) as client:
        with pytest.raises(UnavailableError):
            await client.application.create_application(parent="projects/acme", application_id="shop")

    assert len(fake.seen.requests["CreateApplication"]) == 1


def rate_limited(delay_ms: int) -> status_pb2.Status:
    """What the gateway's rate limiter answers: RESOURCE_EXHAUSTED with a RetryInfo."""
    refusal = rpc_failure(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many requests from principals/ci")
    packed = any_pb2.Any()
    delay = duration_pb2.Duration(seconds=delay_ms // 1000, nanos=delay_ms % 1000 * 1_000_000)
    packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    refusal.details.append(packed)
    return refusal


def test_a_throttled_create_is_retried_even_without_request_id(
    server: FakeServer, fake: FakeApplicationService
) -> None:
    # A rate limit refuses a call before anything happens, so even a call that is not safe to
    # repeat after a failure may be sent again once the server's delay has passed.
    fake.fail_next("CreateApplication", rate_limited(20), rate_limited(0))

    with Client(server.target, retry=FAST_RETRY, auto_request_id=False) as client:
        created = client.application.create_application(parent="projects/acme", application_id="shop")

    assert created.name == SHOP
    assert len(fake.seen.requests["CreateApplication"]) == 3


def test_resource_exhausted_without_a_retry_delay_surfaces(client: Client, fake: FakeApplicationService) -> None:
    fake.fail_next("GetApplication", rpc_failure(grpc.StatusCode.RESOURCE_EXHAUSTED, "message too large"))

    with pytest.raises(ResourceExhaustedError):
        client.application.get_application(name=SHOP)

    assert len(fake.seen.requests["GetApplication"]) == 1


def test_a_throttled_call_is_repeated_past_the_attempt_limit_of_other_failures(
    client: Client, fake: FakeApplicationService
) -> None:
    fake.store[SHOP] = app_pb2.Application(name=SHOP)
    throttles = FAST_RETRY.max_attempts * 3
    fake.fail_next("GetApplication", *[rate_limited(1)] * throttles)

    found = client.application.get_application(name=SHOP)

    assert found.name == SHOP
    assert len(fake.seen.requests["GetApplication"]) == throttles + 1


def test_a_throttled_call_fails_with_the_rate_limit_at_its_deadline_not_before(
    client: Client, fake: FakeApplicationService
) -> None:
    # The server asks for a pause far past the deadline: the call waits until the deadline
    # (the caller was willing to), then reports the refusal rather than DEADLINE_EXCEEDED.
    fake.fail_next("GetApplication", rate_limited(60_000))
    started = time.monotonic()

    with pytest.raises(ResourceExhaustedError):
        client.application.get_application(name=SHOP, timeout=0.3)

    assert time.monotonic() - started >= 0.3
    assert len(fake.seen.requests["GetApplication"]) == 1


def test_a_throttled_call_whose_jitter_would_pass_its_deadline_still_tries_within_it(
    client: Client, fake: FakeApplicationService
) -> None:
    # The pause would be 0.4 s plus up to 0.4 s of jitter: often past the 0.7 s deadline, but
    # the server's own delay is not, so the jitter is drawn within what is left.
    fake.store[SHOP] = app_pb2.Application(name=SHOP)
    fake.fail_next("GetApplication", rate_limited(400))

    found = client.application.get_application(name=SHOP, timeout=0.7)

    assert found.name == SHOP
    assert len(fake.seen.requests["GetApplication"]) == 2


async def test_without_a_deadline_a_throttled_call_is_repeated_for_the_policy_budget(
    server: FakeServer, fake: FakeApplicationService
) -> None:
    fake.fail_next("GetApplication", *[rate_limited(40)] * 1000)
    policy = RetryPolicy(max_attempts=1, initial_backoff=0.001, max_backoff=0.002, throttled_budget=1.0)
    started = time.monotonic()

    async with AsyncClient(server.target, retry=policy) as client:
        with pytest.raises(ResourceExhaustedError):
            await client.application.get_application(name=SHOP)

    assert time.monotonic() - started >= 1.0
    # Each pause at least the server's delay: never more tries than the budget holds.
    assert 2 <= len(fake.seen.requests["GetApplication"]) <= 1.0 / 0.04 + 1


def test_no_retry_does_not_repeat_a_throttled_call(server: FakeServer, fake: FakeApplicationService) -> None:
    fake.fail_next("GetApplication", rate_limited(1))

    with Client(server.target, retry=NO_RETRY) as client, pytest.raises(ResourceExhaustedError):
        client.application.get_application(name=SHOP)

    assert len(fake.seen.requests["GetApplication"]) == 1


def test_throttled_pauses_are_the_servers_delay_plus_a_jitter_that_spreads_callers() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=5.0)
    pauses = [policy.throttled_pause(1, 0.02) for _ in range(200)]
    assert all(0.02 <= pause <= 0.12 for pause in pauses)
    assert max(pauses) - min(pauses) > 0.05  # not all back at once when one token is free
    assert all(5.0 <= policy.throttled_pause(retry, 5.0) <= 10.0 for retry in (1, 10, 1000))
    assert all(0.0 <= policy.throttled_pause(retry, 0.0) <= 5.0 for retry in (1, 1000))
