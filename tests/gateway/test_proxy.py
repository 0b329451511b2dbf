"""Pass-through of proxied calls: bytes, streams, rich errors, deadlines, unreachable backends."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.sdk import DeadlineExceededError, InvalidArgumentError, UnavailableError

from .conftest import World
from .registry_stand_in import NON_CANONICAL_APPLICATION

GET_APPLICATION = "/threeport.registry.v1alpha1.ApplicationService/GetApplication"


async def test_unary_call_passes_bytes_through_unchanged(world: World) -> None:
    await world.project("a")
    token = await world.principal("dev", ("viewer", "projects/a"))
    # Unknown field 98 before field 1: a gateway that re-encoded would reorder these bytes.
    request = b"\x92\x06\x02hi" + app_pb2.GetApplicationRequest(name="projects/a/applications/raw").SerializeToString()
    async with grpc.aio.insecure_channel(world.target) as channel:
        response = await channel.unary_unary(GET_APPLICATION)(request, metadata=[("authorization", f"Bearer {token}")])
    assert response == NON_CANONICAL_APPLICATION
    [seen] = world.registry.calls
    assert seen.raw_request == request
    assert seen.principal == "principals/dev" and seen.grants == "viewer@projects/a"


async def test_server_stream_is_relayed_message_by_message(world: World) -> None:
    await world.project("a")
    viewer = world.client(await world.principal("dev", ("viewer", "projects/a")))
    events = [event async for event in viewer.application.watch_applications(parent="projects/a")]
    assert [e.application.name for e in events] == [f"projects/a/applications/app-{i}" for i in range(3)]
    assert [c.method for c in world.registry.calls] == ["WatchApplications"]


async def test_backend_errors_reach_the_sdk_with_their_details(world: World) -> None:
    await world.project("a")
    deployer = world.client(await world.principal("dev", ("deployer", "projects/a")))
    with pytest.raises(InvalidArgumentError) as raised:
        await deployer.application.create_application(
            parent="projects/a", application_id="shop", application=app_pb2.Application()
        )
    assert raised.value.reason == "INVALID_FIELDS"
    assert [(v.field, v.description) for v in raised.value.field_violations] == [
        ("application.spec.components", "must name at least one component")
    ]
    audited = [
        (e.allowed, e.code)
        async for e in world.admin.audit_entry.list_audit_entries(
            filter='method = "/threeport.registry.v1alpha1.ApplicationService/CreateApplication"'
        )
    ]
    assert audited == [(True, "INVALID_ARGUMENT")]


async def test_backend_status_details_are_byte_for_byte_the_backends(world: World) -> None:
    await world.project("a")
    token = await world.principal("dev", ("deployer", "projects/a"))
    request = app_pb2.CreateApplicationRequest(parent="projects/a", application_id="shop")
    path = "/threeport.registry.v1alpha1.ApplicationService/CreateApplication"
    errors = []
    for target, metadata in (
        (world.target, [("authorization", f"Bearer {token}")]),
        (
            world.registry.target,
            [
                ("authorization", "Service test-service-credential-0123456789"),
                ("x-threeport-principal", "principals/dev"),
                ("x-threeport-roles", "deployer@projects/a"),
            ],
        ),
    ):
        async with grpc.aio.insecure_channel(target) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await channel.unary_unary(path)(request.SerializeToString(), metadata=metadata)
            errors.append(raised.value)
    via_gateway, direct = errors
    assert via_gateway.code() == direct.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert via_gateway.details() == direct.details()
    details = {k: v for k, v in via_gateway.trailing_metadata() if k == "grpc-status-details-bin"}
    direct_details = {k: v for k, v in direct.trailing_metadata() if k == "grpc-status-details-bin"}
    assert details == direct_details and details
    status = status_pb2.Status.FromString(details["grpc-status-details-bin"])
    assert any(d.Is(error_details_pb2.BadRequest.DESCRIPTOR) for d in status.details)


async def test_the_callers_deadline_travels_to_the_backend(world: World) -> None:
    await world.project("a")
    viewer = world.client(await world.principal("dev", ("viewer", "projects/a")))
    with pytest.raises(DeadlineExceededError):
        await viewer.application.get_application(name="projects/a/applications/slow", timeout=0.5)
    [seen] = world.registry.calls
    assert seen.time_remaining is not None and 0 < seen.time_remaining <= 0.5


async def test_backend_not_running_is_unavailable_naming_the_service(world: World) -> None:
    await world.project("a")
    viewer = world.client(await world.principal("dev", ("viewer", "projects/a")))
    with pytest.raises(UnavailableError) as raised:
        await viewer.deployment.get_deployment(name="projects/a/deployments/shop-prod")
    assert raised.value.reason == "BACKEND_UNAVAILABLE"
    assert "workload-delivery" in raised.value.message
    assert raised.value.error_metadata == {"service": "workload-delivery"}


async def test_backend_not_configured_is_unavailable_naming_the_service(world: World) -> None:
    with pytest.raises(UnavailableError) as raised:
        await world.admin.cluster.get_cluster(name="clusters/prod")
    assert raised.value.reason == "BACKEND_UNAVAILABLE"
    assert "cluster-manager" in raised.value.message and "THREEPORT_BACKEND_CLUSTERS" in raised.value.message
