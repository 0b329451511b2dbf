"""Fixtures: a fake ApplicationService on a random port, and SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from threeport.sdk import AsyncClient, Client, RetryPolicy

from .fake_registry import FakeApplicationService, FakeServer

# Tiny pauses keep retry tests quick; correctness never depends on their length.
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.002)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as running:
        yield running


@pytest.fixture
def fake(server: FakeServer) -> FakeApplicationService:
    return server.servicer


@pytest.fixture
def client(server: FakeServer) -> Iterator[Client]:
    with Client(server.target, token="t0k", retry=FAST_RETRY) as opened:
        yield opened


@pytest.fixture
async def async_client(server: FakeServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server.target, token="t0k", retry=FAST_RETRY) as opened:
        yield opened
