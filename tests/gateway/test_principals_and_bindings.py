"""Principals and role bindings: CRUD with the standard semantics, and their effect on access."""

from __future__ import annotations

import pytest
from google.protobuf import field_mask_pb2

from threeport.common.v1alpha1 import annotations_pb2
from threeport.gateway.v1alpha1 import principal_pb2, role_binding_pb2
from threeport.sdk import (
    AbortedError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)

from .conftest import World, query


def binding(principal: str, role: int, project: str = "") -> role_binding_pb2.RoleBinding:
    return role_binding_pb2.RoleBinding(
        spec=role_binding_pb2.RoleBindingSpec(principal=principal, role=role, project=project)  # type: ignore[arg-type]
    )


async def test_principal_crud_with_etag_request_id_and_validate_only(world: World) -> None:
    principals = world.admin.principal
    spec = principal_pb2.PrincipalSpec(display_name="Ada", email="ada@example.com")
    dry = await principals.create_principal(
        principal_id="ada", principal=principal_pb2.Principal(spec=spec), validate_only=True
    )
    assert dry.name == "principals/ada"
    with pytest.raises(NotFoundError):
        await principals.get_principal(name="principals/ada")
    created = await principals.create_principal(
        principal_id="ada", principal=principal_pb2.Principal(spec=spec), request_id="r-ada"
    )
    repeated = await principals.create_principal(
        principal_id="ada", principal=principal_pb2.Principal(spec=spec), request_id="r-ada"
    )
    assert repeated.uid == created.uid
    change = principal_pb2.Principal(name=created.name, etag=created.etag)
    change.spec.display_name = "Ada L."
    mask = field_mask_pb2.FieldMask(paths=["spec.display_name"])
    updated = await principals.update_principal(principal=change, update_mask=mask)
    assert updated.spec.display_name == "Ada L." and updated.spec.email == "ada@example.com"
    with pytest.raises(AbortedError):
        await principals.update_principal(principal=change, update_mask=mask)
    with pytest.raises(AbortedError):
        await principals.delete_principal(name=created.name, etag=created.etag)
    await principals.delete_principal(name=created.name, etag=updated.etag)
    with pytest.raises(NotFoundError):
        await principals.get_principal(name=created.name)


async def test_invalid_principal_lists_every_violation(world: World) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        await world.admin.principal.create_principal(
            principal_id="-x",
            principal=principal_pb2.Principal(spec=principal_pb2.PrincipalSpec(email="nobody")),
        )
    assert sorted(v.field for v in raised.value.field_violations) == ["principal.spec.email", "principal_id"]


async def test_principals_page_and_filter(world: World) -> None:
    for index in range(4):
        await world.admin.principal.create_principal(
            principal_id=f"bot-{index}",
            principal=principal_pb2.Principal(
                labels={"team": "ci" if index % 2 else "web"},
                spec=principal_pb2.PrincipalSpec(type=principal_pb2.PRINCIPAL_TYPE_SERVICE_ACCOUNT),
            ),
        )
    page = await world.admin.principal.list_principals_page(page_size=2)
    assert [p.name for p in page.principals] == ["principals/admin", "principals/bot-0"]
    assert page.next_page_token
    rest = await world.admin.principal.list_principals_page(page_size=10, page_token=page.next_page_token)
    assert [p.name for p in rest.principals] == ["principals/bot-1", "principals/bot-2", "principals/bot-3"]
    ci = [p.name async for p in world.admin.principal.list_principals(filter='labels.team = "ci"')]
    assert ci == ["principals/bot-1", "principals/bot-3"]


async def test_disabled_principal_is_refused(world: World) -> None:
    await world.project("acme")
    token = await world.principal("dev", ("viewer", "projects/acme"))
    await world.client(token).project.get_project(name="projects/acme")
    change = principal_pb2.Principal(name="principals/dev", spec=principal_pb2.PrincipalSpec(disabled=True))
    await world.admin.principal.update_principal(
        principal=change, update_mask=field_mask_pb2.FieldMask(paths=["spec.disabled"])
    )
    with pytest.raises(UnauthenticatedError) as raised:
        await world.client(token).project.get_project(name="projects/acme")
    assert "disabled" in raised.value.message


async def test_role_bindings_take_effect_on_the_next_call(world: World) -> None:
    await world.project("acme")
    token = await world.principal("dev")
    client = world.client(token)
    with pytest.raises(PermissionDeniedError):
        await client.project.get_project(name="projects/acme")
    created = await world.admin.role_binding.create_role_binding(
        role_binding_id="dev-viewer",
        role_binding=binding("principals/dev", annotations_pb2.ROLE_VIEWER, "projects/acme"),
    )
    assert (await client.project.get_project(name="projects/acme")).name == "projects/acme"
    who = await client.principal.get_current_principal()
    assert [b.name for b in who.role_bindings] == ["roleBindings/dev-viewer"]
    fetched = await world.admin.role_binding.get_role_binding(name=created.name)
    assert fetched.spec.project == "projects/acme"
    listed = [
        b.name async for b in world.admin.role_binding.list_role_bindings(filter='spec.principal = "principals/dev"')
    ]
    assert listed == ["roleBindings/dev-viewer"]
    await world.admin.role_binding.delete_role_binding(name=created.name)
    with pytest.raises(PermissionDeniedError):
        await client.project.get_project(name="projects/acme")


async def test_role_bindings_must_reference_what_exists(world: World) -> None:
    await world.admin.principal.create_principal(principal_id="dev")
    bad = [
        (
            binding("principals/ghost", annotations_pb2.ROLE_VIEWER, "projects/acme"),
            {
                "role_binding.spec.principal",
                "role_binding.spec.project",
            },
        ),
        (binding("principals/dev", annotations_pb2.ROLE_OPERATOR, "projects/acme"), {"role_binding.spec.project"}),
        (binding("principals/dev", annotations_pb2.ROLE_ADMIN), {"role_binding.spec.project"}),
        (binding("principals/dev", annotations_pb2.ROLE_SERVICE), {"role_binding.spec.role"}),
    ]
    for index, (resource, fields) in enumerate(bad):
        with pytest.raises(InvalidArgumentError) as raised:
            await world.admin.role_binding.create_role_binding(role_binding_id=f"b{index}", role_binding=resource)
        assert {v.field for v in raised.value.field_violations} == fields
    dry = await world.admin.role_binding.create_role_binding(
        role_binding_id="ok", role_binding=binding("principals/dev", annotations_pb2.ROLE_OPERATOR), validate_only=True
    )
    assert dry.name == "roleBindings/ok"
    assert await query(world.database_url, "select name from gateway.role_bindings") == [
        ("roleBindings/admin-operator",)
    ]


async def test_the_last_operator_cannot_be_deleted_without_force(world: World) -> None:
    with pytest.raises(FailedPreconditionError) as raised:
        await world.admin.principal.delete_principal(name="principals/admin")
    assert "last operator" in raised.value.message
    token = await world.principal("second", ("operator", ""))
    await world.admin.principal.delete_principal(name="principals/admin")
    with pytest.raises(UnauthenticatedError):
        await world.admin.project.list_projects_page()
    remaining = [p.name async for p in world.client(token).principal.list_principals()]
    assert remaining == ["principals/second"]
