"""Declared watches (``ControllerSpec``: For / Owns / Watches) and service-to-service clients
built by the runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from redis.asyncio import Redis

from tests.runtime.toy_service.tables import SCHEMA
from threeport.common.v1alpha1 import change_event_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime.bus.streams import PAYLOAD_FIELD, resource_stream
from threeport_runtime.reconcile.controller import Controller, ControllerOptions
from threeport_runtime.reconcile.result import Result
from threeport_runtime.reconcile.spec import ControllerSpec, For, Owns, owner_matches
from threeport_runtime.runtime import ServiceRuntime
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.telemetry import configure_telemetry, tracer
from threeport_runtime.testing import TEST_CREDENTIAL, make_settings, wait_until


def test_owner_patterns_match_segment_by_segment() -> None:
    assert owner_matches("projects/*/deployments/*", "projects/acme/deployments/shop")
    assert not owner_matches("projects/*/deployments/*", "projects/acme/applications/shop")
    assert not owner_matches("projects/*/deployments/*", "projects/acme/deployments/shop/releases/1")
    assert not owner_matches("projects/*/deployments/*", "")


async def publish(redis: Redis, stream: str, event: change_event_pb2.ChangeEvent) -> None:
    await redis.xadd(stream, {PAYLOAD_FIELD: event.SerializeToString()})


async def test_owned_resources_wake_their_owner_from_the_event_alone(stream_prefix: str, redis_client: Redis) -> None:
    """An owned resource's event names its owner, so the owner's key is queued without reading
    anything; events of the controller's own resource still queue their own name."""
    seen: list[str] = []

    async def reconcile(name: str) -> Result | None:
        seen.append(name)
        return None

    async def no_keys() -> AsyncIterator[str]:
        return
        yield  # pragma: no cover - makes this an async generator

    deployments = resource_stream(stream_prefix, "test.Deployment")
    claims = resource_stream(stream_prefix, "test.Claim")
    spec = ControllerSpec(
        "owner",
        for_=For(deployments, list_keys=no_keys),
        owns=[
            Owns(
                claims,
                owner="projects/*/deployments/*",
                changes=frozenset({change_event_pb2.CHANGE_TYPE_STATUS_CHANGED}),
            )
        ],
    )
    controller = Controller(
        spec.name,
        reconcile,
        redis=redis_client,
        stream_prefix=stream_prefix,
        watches=spec.all_watches(),
        list_keys=spec.for_.list_keys,
        options=ControllerOptions(resync_interval=600.0, claim_interval=0.2),
    )
    await controller.consumer.ensure_groups()
    task = asyncio.create_task(controller.run())
    status = change_event_pb2.CHANGE_TYPE_STATUS_CHANGED
    try:
        await publish(redis_client, deployments, change_event_pb2.ChangeEvent(
            name="projects/acme/deployments/own", change=change_event_pb2.CHANGE_TYPE_CREATED))
        await publish(redis_client, claims, change_event_pb2.ChangeEvent(
            name="claims/c1", owner="projects/acme/deployments/shop", change=status))
        await publish(redis_client, claims, change_event_pb2.ChangeEvent(
            name="claims/c2", owner="projects/acme/addons/ingress", change=status))  # Not a deployment.
        await publish(redis_client, claims, change_event_pb2.ChangeEvent(
            name="claims/c3", owner="projects/acme/deployments/spec-only",
            change=change_event_pb2.CHANGE_TYPE_UPDATED))  # A change this controller does not follow.
        await publish(redis_client, claims, change_event_pb2.ChangeEvent(
            name="claims/c4", owner="projects/acme/deployments/marker", change=status))

        async def marker_and_own_seen() -> bool:
            return {"projects/acme/deployments/marker", "projects/acme/deployments/own"} <= set(seen)

        await wait_until(marker_and_own_seen, what="the marker's owner and the deployment to be reconciled")
        # A stream is handled in order, so every claim event before the marker has been seen.
        assert sorted(set(seen)) == [
            "projects/acme/deployments/marker",
            "projects/acme/deployments/own",
            "projects/acme/deployments/shop",
        ]
    finally:
        await cancel_and_wait(task)


class CapturingBackend(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Another service, reduced to what it received: metadata and the call's deadline."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], float | None]] = []

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if not details.method.startswith("/threeport."):
            # No health service (UNIMPLEMENTED): the channel's health check then counts the
            # backend as healthy, as gRPC's client-side health checking specifies.
            return None

        async def get(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            self.calls.append((dict(context.invocation_metadata() or ()), context.time_remaining()))
            return application_pb2.Application(name="projects/acme/applications/shop").SerializeToString()

        return grpc.unary_unary_rpc_method_handler(get)


async def test_service_clients_carry_credential_trace_context_and_a_deadline(
    database_url: str, stream_prefix: str
) -> None:
    configure_telemetry("toy")
    backend = CapturingBackend()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([backend])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    runtime = ServiceRuntime(make_settings("toy", database_url, stream_prefix), SCHEMA)
    try:
        client = runtime.service_client(f"127.0.0.1:{port}")
        with tracer().start_as_current_span("caller") as span:
            got = await client.application.get_application(name="projects/acme/applications/shop")
        assert got.name == "projects/acme/applications/shop"
        [(metadata, remaining)] = backend.calls
        assert metadata["authorization"] == f"Service {TEST_CREDENTIAL}"
        assert metadata["x-threeport-service"] == "toy"
        assert f"{span.get_span_context().trace_id:032x}" in metadata["traceparent"]
        assert remaining is not None and 0 < remaining <= 10.0
    finally:
        await runtime.close()
        await server.stop(None)
