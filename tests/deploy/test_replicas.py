"""Three replicas of a controller service (the registry, as real processes started with the
image's command) share the work through their consumer groups and leases, and SIGKILLing one
in the middle of it loses nothing: events it had taken are reclaimed by the others, and every
object still becomes Ready. Production controller settings throughout."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from google.protobuf import json_format
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from tests.delivery.samples import RATES
from threeport.registry.v1alpha1 import application_pb2
from threeport.sdk import NO_RETRY, Client
from threeport_registry.service import DEFINITION as REGISTRY
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.testing import (  # noqa: F401 - fixtures
    REDIS_URL,
    TEST_CREDENTIAL,
    database_url,
    free_port,
    redis_client,
    stream_prefix,
)

PARENT = "projects/acme"
ADMIN = [("authorization", f"Service {TEST_CREDENTIAL}"), ("x-threeport-principal", "principals/alice"),
         ("x-threeport-roles", f"admin@{PARENT}")]
CONTROLLER = "registry.application"


class Replica:
    def __init__(self, environment: dict[str, str]):
        self.port, self.metrics_port = free_port(), free_port()
        env = {**environment, "THREEPORT_LISTEN_ADDRESS": f"127.0.0.1:{self.port}",
               "THREEPORT_METRICS_LISTEN_ADDRESS": f"127.0.0.1:{self.metrics_port}"}
        self.process = subprocess.Popen([sys.executable, "-m", "threeport_registry", "serve"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = Client(f"127.0.0.1:{self.port}", metadata=ADMIN, retry=NO_RETRY)

    def reconciles(self) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=30) as response:
            text = response.read().decode()
        return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                   if sample.name == "threeport_reconcile_count_total"
                   and sample.labels.get("controller") == CONTROLLER and sample.labels.get("outcome") == "success")


@pytest.fixture
def replicas(database_url: str, stream_prefix: str) -> Iterator[list[Replica]]:  # noqa: F811
    upgrade(REGISTRY.migrations_dir, database_url)
    environment = {**os.environ, "THREEPORT_DATABASE_URL": database_url, "THREEPORT_REDIS_URL": REDIS_URL,
                   "THREEPORT_SERVICE_CREDENTIAL": TEST_CREDENTIAL, "THREEPORT_STREAM_PREFIX": stream_prefix,
                   "THREEPORT_LOG_LEVEL": "WARNING"}
    started = [Replica(environment) for _ in range(3)]
    try:
        yield started
    finally:
        for replica in started:
            replica.client.close()
            if replica.process.poll() is None:
                replica.process.kill()
            replica.process.wait()


def create(replica: Replica, app_id: str) -> None:
    for _attempt in range(300):  # the process may still be starting
        try:
            replica.client.application.create_application(
                parent=PARENT, application_id=app_id,
                application=json_format.ParseDict({"spec": RATES}, application_pb2.Application()))
            return
        except Exception as error:
            if "UNAVAILABLE" not in repr(error) and "Unavailable" not in type(error).__name__:
                raise

        time.sleep(0.1)


def all_ready(replica: Replica, count: int) -> bool:
    apps = list(replica.client.application.list_applications(parent=PARENT))
    ready = [a for a in apps if any(c.type == "Ready" and c.status == 1 and c.observed_generation == a.generation
                                    for c in a.conditions)]
    return len(apps) == count and len(ready) == count


async def eventually(check: object, what: str, attempts: int) -> None:
    for _ in range(attempts):
        if await asyncio.to_thread(check):  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} did not happen")


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_three_replicas_share_the_work_and_a_killed_one_loses_nothing(
    replicas: list[Replica], redis_client: Redis, stream_prefix: str  # noqa: F811
) -> None:
    for index in range(30):
        await asyncio.to_thread(create, replicas[index % 3], f"app-{index}")
    await eventually(lambda: all_ready(replicas[1], 30), "30 applications Ready", 240)
    shared = [await asyncio.to_thread(replica.reconciles) for replica in replicas]
    assert all(count > 0 for count in shared), f"each replica should have reconciled some: {shared}"

    # Freeze one replica while it waits for events, so it takes some and never acknowledges them,
    # then kill it outright.
    victim, survivors = replicas[0], replicas[1:]
    victim.process.send_signal(signal.SIGSTOP)
    for index in range(30, 45):
        await asyncio.to_thread(create, survivors[index % 2], f"app-{index}")
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    taken = await pending_of(redis_client, stream_prefix, victim.process.pid)

    # Reclaimed after the production idle time (30 s) and lease TTL (15 s): slow, but nothing is lost.
    await eventually(lambda: all_ready(survivors[0], 45), "all 45 applications Ready after the kill", 400)
    assert taken > 0, "the frozen replica took no event, so the test proved nothing about reclaiming"


async def pending_of(redis: Redis, prefix: str, pid: int) -> int:
    """Events delivered to the process ``pid``'s consumer and never acknowledged by it (consumer
    names are ``<host>-<pid>-<random>``)."""
    stream = f"{prefix}threeport.registry.v1alpha1.Application"
    consumers = await redis.xinfo_consumers(stream, CONTROLLER)
    return sum(int(c["pending"]) for c in consumers if f"-{pid}-" in str(c["name"]))
