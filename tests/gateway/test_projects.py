"""Projects through the SDK: the standard method semantics and per-caller visibility."""

from __future__ import annotations

import pytest
from google.protobuf import field_mask_pb2

from threeport.common.v1alpha1 import state_pb2
from threeport.gateway.v1alpha1 import project_pb2
from threeport.sdk import (
    AbortedError,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from threeport_api_gateway.config import GatewaySettings
from threeport_api_gateway.service import start_gateway

from .conftest import World, query


async def test_create_is_ready_at_once_and_get_returns_it(world: World) -> None:
    created = await world.admin.project.create_project(
        project_id="acme", project=project_pb2.Project(spec=project_pb2.ProjectSpec(display_name="Acme"))
    )
    assert created.name == "projects/acme"
    assert created.state == state_pb2.STATE_READY and not created.reconciling
    ready = await world.admin.project.wait_ready("projects/acme", timeout=5)
    assert ready.spec.display_name == "Acme"


async def test_invalid_id_lists_the_violation_and_writes_nothing(world: World) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        await world.admin.project.create_project(project_id="Not_Valid")
    assert [v.field for v in raised.value.field_violations] == ["project_id"]
    assert await query(world.database_url, "select count(*) from gateway.projects") == [(0,)]


async def test_validate_only_writes_nothing(world: World) -> None:
    checked = await world.admin.project.create_project(project_id="dry", validate_only=True)
    assert checked.name == "projects/dry"
    with pytest.raises(NotFoundError):
        await world.admin.project.get_project(name="projects/dry")


async def test_request_id_makes_create_idempotent(world: World) -> None:
    first = await world.admin.project.create_project(project_id="once", request_id="req-1")
    again = await world.admin.project.create_project(project_id="once", request_id="req-1")
    assert again.uid == first.uid
    with pytest.raises(AlreadyExistsError):
        await world.admin.project.create_project(project_id="once", request_id="req-2")


async def test_update_with_stale_etag_is_aborted(world: World) -> None:
    created = await world.admin.project.create_project(project_id="acme")
    changed = project_pb2.Project(name=created.name, etag=created.etag)
    changed.spec.description = "first"
    updated = await world.admin.project.update_project(
        project=changed, update_mask=field_mask_pb2.FieldMask(paths=["spec.description"])
    )
    assert updated.spec.description == "first" and updated.generation == 2
    assert updated.state == state_pb2.STATE_READY
    changed.spec.description = "second, from a stale read"
    with pytest.raises(AbortedError):
        await world.admin.project.update_project(project=changed)
    assert (await world.admin.project.get_project(name=created.name)).spec.description == "first"


async def test_list_pages_through_every_project_in_name_order(world: World) -> None:
    for index in range(5):
        await world.project(f"p{index}")
    first = await world.admin.project.list_projects_page(page_size=2)
    assert [p.name for p in first.projects] == ["projects/p0", "projects/p1"]
    names = [p.name async for p in world.admin.project.list_projects(page_size=2)]
    assert names == [f"projects/p{index}" for index in range(5)]
    filtered = [p.name async for p in world.admin.project.list_projects(filter='name = "projects/p3"')]
    assert filtered == ["projects/p3"]


async def test_callers_see_only_projects_they_hold_a_role_on(world: World) -> None:
    for project_id in ("a", "b", "c"):
        await world.project(project_id)
    token = await world.principal("dev", ("viewer", "projects/a"), ("deployer", "projects/c"))
    visible = [p.name async for p in world.client(token).project.list_projects()]
    assert visible == ["projects/a", "projects/c"]
    everything = [p.name async for p in world.admin.project.list_projects()]
    assert everything == ["projects/a", "projects/b", "projects/c"]


async def test_delete_of_a_project_with_members_needs_force(world: World) -> None:
    await world.project("acme")
    await world.principal("dev", ("deployer", "projects/acme"))
    # The world's workload-delivery backend does not answer, so nobody can tell whether the
    # project still holds deployments there: the delete is refused and nothing is removed.
    with pytest.raises(UnavailableError) as unavailable:
        await world.admin.project.delete_project(name="projects/acme", force=True)
    assert "workload-delivery" in unavailable.value.message
    assert len([b async for b in world.admin.role_binding.list_role_bindings()]) == 2
    await world.gateway.stop(grace=0)
    reachable = {"registry": world.registry.target}
    world.settings = GatewaySettings(**{**world.settings.__dict__, "backend_addresses": reachable})
    world.gateway = await start_gateway(world.settings)  # the fixture stops this one
    world._admin = None
    with pytest.raises(FailedPreconditionError) as raised:
        await world.admin.project.delete_project(name="projects/acme")
    assert raised.value.reason == "RESOURCE_IN_USE" and "dev-0" in raised.value.message
    await world.admin.project.delete_project(name="projects/acme", force=True)
    with pytest.raises(NotFoundError):
        await world.admin.project.get_project(name="projects/acme")
    assert [b.name async for b in world.admin.role_binding.list_role_bindings()] == ["roleBindings/admin-operator"]
    gone = await world.admin.project.delete_project(name="projects/acme", allow_missing=True)
    assert gone.name == ""
