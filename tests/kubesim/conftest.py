"""Fixtures for the emulator's own test suite: one in-process emulator per session (TLS, so kubectl
sends its token) and official clients bound to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, dynamic

from tests.kubesim.helpers import MAIN, make_api_client
from threeport_kubesim.testing import EmulatorHandle, run_emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator([MAIN], tls=True, speed=50.0, nodes=2, bookmark_interval=0.5, history_size=300) as handle:
        yield handle


@pytest.fixture(scope="session")
def api(emulator: EmulatorHandle) -> client.ApiClient:
    return make_api_client(emulator)


@pytest.fixture(scope="session")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="session")
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


@pytest.fixture
def dynamic_client(api: client.ApiClient, tmp_path: Path) -> dynamic.DynamicClient:
    """The official dynamic client, its discovery cache in the test's folder (by default it
    writes ``osrcp-*.json`` to the system's temporary folder and leaves it there)."""
    return dynamic.DynamicClient(api, cache_file=str(tmp_path / "discovery.json"))
