"""The RBAC matrix: who may call what, through the gateway, and that every denial is audited.

Proxied methods are answered by the registry stand-in, a real gRPC peer that itself runs the
runtime's service-credential check; gateway methods by the gateway.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import duration_pb2

from threeport.gateway.v1alpha1 import project_pb2
from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.registry.v1alpha1 import cluster_profile_pb2 as profile_pb2
from threeport.sdk import PermissionDeniedError, UnauthenticatedError
from threeport_runtime.rpc.identity import PRINCIPAL, ROLES

from .conftest import World, query

APP_SPEC = app_pb2.ApplicationSpec(components={"api": app_pb2.Component(image="example/api:1")})


async def denials(world: World) -> list[tuple[str, str, str, str]]:
    """(principal, method suffix, code, resource) of every audited denial, oldest first."""
    entries = world.admin.audit_entry.list_audit_entries(filter="allowed = false")
    return [(e.principal, e.method.rsplit("/", 1)[-1], e.code, e.resource) async for e in entries]


async def test_no_token_is_unauthenticated_and_audited(world: World) -> None:
    with pytest.raises(UnauthenticatedError) as raised:
        await world.client().project.list_projects_page()
    assert raised.value.reason == "UNAUTHENTICATED" and "Bearer" in raised.value.message
    assert await denials(world) == [("", "ListProjects", "UNAUTHENTICATED", "")]


async def test_malformed_and_unknown_tokens_are_unauthenticated(world: World) -> None:
    for token in ("not-a-token", "tp_" + "0" * 32 + "_" + "A" * 43, world.admin_token[:-1] + "x"):
        with pytest.raises(UnauthenticatedError):
            await world.client(token).project.get_project(name="projects/acme")
    # The unknown token and the wrong secret fail identically, so they share one entry, counted twice.
    entries = [e async for e in world.admin.audit_entry.list_audit_entries(filter="allowed = false")]
    assert [(e.code, e.count) for e in entries] == [("UNAUTHENTICATED", 1), ("UNAUTHENTICATED", 2)]


async def test_expired_token_is_refused(world: World) -> None:
    await world.project("acme")
    token = await world.principal("ci", ("viewer", "projects/acme"))
    # Let the token's lifetime pass by moving its expiry into the past, as time would.
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await query(
        world.database_url,
        "update gateway.tokens set spec = jsonb_set(spec, '{expire_time}', to_jsonb(%s::text)) "
        "where parent = 'principals/ci' returning name",
        past,
    )
    with pytest.raises(UnauthenticatedError) as raised:
        await world.client(token).project.get_project(name="projects/acme")
    assert raised.value.reason == "TOKEN_EXPIRED"


async def test_token_with_a_ttl_works_until_it_expires(world: World) -> None:
    await world.admin.principal.create_principal(principal_id="bot")
    created = await world.admin.token.create_token(
        parent="principals/bot", token_id="short", ttl=duration_pb2.Duration(seconds=3600)
    )
    expires = created.token.spec.expire_time.ToDatetime(tzinfo=UTC)
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    who = await world.client(created.secret).principal.get_current_principal()
    assert who.principal.name == "principals/bot"


async def test_revoked_token_is_refused_at_once(world: World) -> None:
    await world.project("acme")
    token = await world.principal("dev", ("viewer", "projects/acme"))
    client = world.client(token)
    await client.project.get_project(name="projects/acme")  # now cached by the gateway
    [listed] = [t async for t in world.admin.token.list_tokens(parent="principals/dev")]
    revoked = await world.admin.token.revoke_token(name=listed.name)
    assert revoked.spec.HasField("revoke_time")
    with pytest.raises(UnauthenticatedError) as raised:
        await client.project.get_project(name="projects/acme")
    assert raised.value.reason == "TOKEN_REVOKED"
    again = await world.admin.token.revoke_token(name=listed.name)
    assert again.spec.revoke_time == revoked.spec.revoke_time


async def test_viewer_cannot_mutate(world: World) -> None:
    await world.project("acme")
    viewer = world.client(await world.principal("watcher", ("viewer", "projects/acme")))
    assert (await viewer.project.get_project(name="projects/acme")).name == "projects/acme"
    with pytest.raises(PermissionDeniedError) as raised:
        await viewer.project.update_project(project=project_pb2.Project(name="projects/acme"))
    assert "admin role on projects/acme" in raised.value.message
    with pytest.raises(PermissionDeniedError):
        await viewer.application.create_application(
            parent="projects/acme", application_id="shop", application=app_pb2.Application(spec=APP_SPEC)
        )
    assert world.registry.calls == []
    assert await denials(world) == [
        ("principals/watcher", "UpdateProject", "PERMISSION_DENIED", "projects/acme"),
        ("principals/watcher", "CreateApplication", "PERMISSION_DENIED", "projects/acme/applications/shop"),
    ]


async def test_deployer_of_one_project_cannot_touch_another(world: World) -> None:
    await world.project("a")
    await world.project("b")
    deployer = world.client(await world.principal("dev", ("deployer", "projects/a")))
    created = await deployer.application.create_application(
        parent="projects/a", application_id="shop", application=app_pb2.Application(spec=APP_SPEC)
    )
    assert created.name == "projects/a/applications/shop"
    with pytest.raises(PermissionDeniedError):
        await deployer.application.create_application(
            parent="projects/b", application_id="shop", application=app_pb2.Application(spec=APP_SPEC)
        )
    with pytest.raises(PermissionDeniedError):
        await deployer.project.get_project(name="projects/b")
    assert [c.method for c in world.registry.calls] == ["CreateApplication"]
    [seen] = world.registry.calls
    assert seen.principal == "principals/dev"
    assert seen.metadata[PRINCIPAL] == "principals/dev" and seen.metadata[ROLES] == "deployer@projects/a"
    assert [(d[1], d[3]) for d in await denials(world)] == [
        ("CreateApplication", "projects/b/applications/shop"),
        ("GetProject", "projects/b"),
    ]


async def test_only_operators_create_cluster_profiles(world: World) -> None:
    await world.project("acme")
    project_admin = world.client(await world.principal("boss", ("admin", "projects/acme")))
    profile = profile_pb2.ClusterProfile(spec=profile_pb2.ClusterProfileSpec(provider="sim"))
    with pytest.raises(PermissionDeniedError) as raised:
        await project_admin.cluster_profile.create_cluster_profile(cluster_profile_id="std", cluster_profile=profile)
    assert "operator role" in raised.value.message
    created = await world.admin.cluster_profile.create_cluster_profile(
        cluster_profile_id="std", cluster_profile=profile
    )
    assert created.name == "clusterProfiles/std" and created.spec.provider == "sim"
    [seen] = world.registry.calls
    assert seen.principal == "principals/admin" and seen.grants == "operator"
    audited = [
        (e.principal, e.allowed, e.code, e.resource)
        async for e in world.admin.audit_entry.list_audit_entries(
            filter='method = "/threeport.registry.v1alpha1.ClusterProfileService/CreateClusterProfile"'
        )
    ]
    assert audited == [
        ("principals/boss", False, "PERMISSION_DENIED", "clusterProfiles/std"),
        ("principals/admin", True, "OK", "clusterProfiles/std"),
    ]


async def test_internal_methods_are_not_routed_even_for_operators(world: World) -> None:
    with pytest.raises(PermissionDeniedError) as raised:
        await world.admin.internal.cluster_claim.get_cluster_claim(name="clusterClaims/x")
    assert "internal to Threeport services" in raised.value.message
    assert await denials(world) == [("principals/admin", "GetClusterClaim", "PERMISSION_DENIED", "clusterClaims/x")]


async def test_unknown_methods_are_unimplemented(world: World) -> None:
    async with grpc.aio.insecure_channel(world.target) as channel:
        call = channel.unary_unary("/threeport.registry.v1alpha1.NoSuchService/Get")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(b"", metadata=[("authorization", f"Bearer {world.admin_token}")])
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_backend_refuses_forged_identity_without_the_service_credential(world: World) -> None:
    request = app_pb2.GetApplicationRequest(name="projects/acme/applications/shop")
    forged = [(PRINCIPAL, "principals/admin"), (ROLES, "operator")]
    async with grpc.aio.insecure_channel(world.registry.target) as channel:
        call = channel.unary_unary(
            "/threeport.registry.v1alpha1.ApplicationService/GetApplication",
            request_serializer=app_pb2.GetApplicationRequest.SerializeToString,
        )
        for extra in ([], [("authorization", "Service not-the-credential")], [("authorization", "Bearer x")]):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call(request, metadata=[*forged, *extra])
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert world.registry.calls == []


async def test_mutations_are_audited_with_trace_and_peer(world: World) -> None:
    await world.project("acme")
    [entry] = [
        e
        async for e in world.admin.audit_entry.list_audit_entries(
            filter='method = "/threeport.gateway.v1alpha1.ProjectService/CreateProject"'
        )
    ]
    assert entry.allowed and entry.code == "OK" and entry.principal == "principals/admin"
    assert entry.resource == "projects/acme"
    assert len(entry.trace_id) == 32 and entry.peer.startswith("ipv4:127.0.0.1:")
    fetched = await world.admin.audit_entry.get_audit_entry(name=entry.name)
    assert fetched == entry
    await world.admin.project.get_project(name="projects/acme")
    reads = [
        e
        async for e in world.admin.audit_entry.list_audit_entries(
            filter='method = "/threeport.gateway.v1alpha1.ProjectService/GetProject"'
        )
    ]
    assert reads == []
