"""The metrics port: Prometheus text with reconcile counts, queue depth, RPC latency by method
and code, stream lag, oldest pending message and outbox backlog - scraped during a real
deployment, and the bus numbers checked against a consumer group made to fall behind."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

from google.protobuf import json_format
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from tests.delivery.conftest import (  # noqa: F401 - fixtures
    PARENT,
    Kube,
    condition,
    delivery_env,
    emulator,
    world,
)
from tests.delivery.samples import RATES
from threeport.registry.v1alpha1 import application_pb2
from threeport.sdk import NO_RETRY, AsyncClient
from threeport_registry.service import DEFINITION as REGISTRY
from threeport_registry.store.tables import SCHEMA as REGISTRY_SCHEMA
from threeport_runtime.bus.backlog import BusBacklog, Subscription
from threeport_runtime.db.engine import Database
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.metrics_server import MetricsServer
from threeport_runtime.telemetry import configure_telemetry
from threeport_runtime.testing import (  # noqa: F401 - fixtures
    database_url,
    redis_client,
    start_test_service,
    stream_prefix,
    wait_until,
)
from threeport_workload_delivery.service import DEFINITION as DELIVERY

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def matching(samples: Samples, name: str, **labels: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {key: value for (metric, key), value in samples.items()
            if metric == name and all((k, v) in key for k, v in labels.items())}


async def test_scrape_during_a_deployment(world: Any, monkeypatch: Any) -> None:  # noqa: F811
    registry, clusters, _kube, _cluster, settings, opened = world
    delivery_env(monkeypatch, registry.port, clusters.port)
    # Production controller options; only the metrics port is added.
    delivery = await start_test_service(DELIVERY, settings.with_overrides(metrics_listen_address="127.0.0.1:0"))
    try:
        assert delivery.metrics is not None
        port = delivery.metrics.port
        metadata = [("authorization", f"Service {settings.service_credential}"),
                    ("x-threeport-principal", "principals/alice"), ("x-threeport-roles", f"admin@{PARENT}")]
        registry_client = AsyncClient(f"127.0.0.1:{registry.port}", metadata=metadata, retry=NO_RETRY)
        admin = AsyncClient(f"127.0.0.1:{delivery.port}", metadata=metadata, retry=NO_RETRY)
        opened += [registry_client, admin]
        await registry_client.application.create_application(
            parent=PARENT, application_id="rates",
            application=json_format.ParseDict({"spec": RATES}, application_pb2.Application()))
        await admin.deployment.deploy(parent=PARENT, application="rates", environment="dev")
        during = await asyncio.to_thread(scrape, port)

        async def ready() -> bool:
            found = await admin.deployment.get_deployment(name=f"{PARENT}/deployments/rates-dev")
            ready_condition = condition(found, "Ready")
            return ready_condition is not None and ready_condition.status == 1

        await wait_until(ready, within=60, interval=0.2, what="rates-dev to be Ready")
        after = await asyncio.to_thread(scrape, port)
    finally:
        await delivery.stop(grace=1.0)

    controllers = [c.name for c in delivery.runtime.controllers]
    for samples in (during, after):
        for controller in controllers:
            assert matching(samples, "threeport_reconcile_queue_depth", controller=controller), controller
            for stream in next(c for c in delivery.runtime.controllers if c.name == controller).watched_streams:
                assert matching(samples, "threeport_stream_lag", group=controller, stream=stream), (controller, stream)
                assert matching(samples, "threeport_stream_oldest_pending_age_seconds", group=controller)
        assert matching(samples, "threeport_outbox_backlog", schema="delivery")
    deployments = next(name for name in controllers if name.endswith(".deployment"))
    reconciles = matching(after, "threeport_reconcile_count_total", controller=deployments, outcome="success")
    assert sum(reconciles.values()) > 0, matching(after, "threeport_reconcile_count_total")
    assert matching(after, "threeport_reconcile_duration_seconds_count", controller=deployments)
    deploys = matching(after, "threeport_rpc_server_duration_seconds_count",
                       rpc_method="/threeport.delivery.v1alpha1.DeploymentService/Deploy", rpc_grpc_status_code="OK")
    assert sum(deploys.values()) >= 1


async def test_stream_lag_and_oldest_pending_of_a_group_that_falls_behind(
    database_url: str, redis_client: Redis, stream_prefix: str  # noqa: F811
) -> None:
    configure_telemetry("tests")
    await asyncio.to_thread(upgrade, REGISTRY.migrations_dir, database_url)
    stream = f"{stream_prefix}threeport.registry.v1alpha1.Build"
    await redis_client.xgroup_create(stream, "slow", id="0", mkstream=True)
    for index in range(3):
        await redis_client.xadd(stream, {"n": str(index)})
    await redis_client.xreadgroup("slow", "replica-1", {stream: ">"}, count=1)  # read, never acked
    db = Database(database_url)
    backlog = BusBacklog(redis_client, db, REGISTRY_SCHEMA, [Subscription(stream, "slow")])
    server = MetricsServer([backlog.sample])
    port = await server.start("127.0.0.1:0")
    try:
        await asyncio.sleep(1.1)  # so the unacknowledged message is at least a second old
        samples = await asyncio.to_thread(scrape, port)
    finally:
        await server.stop()
        await db.dispose()

    assert matching(samples, "threeport_stream_lag", group="slow", stream=stream) == {
        (("group", "slow"), ("stream", stream)): 2.0
    }
    assert list(matching(samples, "threeport_stream_pending", group="slow").values()) == [1.0]
    [age] = matching(samples, "threeport_stream_oldest_pending_age_seconds", group="slow").values()
    assert age >= 1.0
    assert list(matching(samples, "threeport_outbox_backlog", schema="registry").values()) == [0.0]
