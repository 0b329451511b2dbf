"""Tokens are shown once and stored only as a salted hash; bootstrap creates one administrator."""

from __future__ import annotations

import pytest

from threeport.gateway.v1alpha1 import token_pb2
from threeport.sdk import InvalidArgumentError, NotFoundError, UnauthenticatedError
from threeport_api_gateway.service import start_gateway

from .conftest import World, query


async def test_secret_is_shown_once_and_only_its_hash_is_stored(world: World) -> None:
    await world.admin.principal.create_principal(principal_id="ci")
    created = await world.admin.token.create_token(
        parent="principals/ci",
        token_id="github",
        token=token_pb2.Token(spec=token_pb2.TokenSpec(description="GitHub Actions")),
    )
    secret = created.secret
    assert secret.startswith("tp_") and created.token.name == "principals/ci/tokens/github"
    assert created.token.spec.prefix == secret[:11] and created.token.spec.description == "GitHub Actions"
    fetched = await world.admin.token.get_token(name=created.token.name)
    listed = [t async for t in world.admin.token.list_tokens(parent="principals/ci")]
    assert secret not in str(fetched) and [t.name for t in listed] == [created.token.name]
    [(secret_hash, whole_row)] = await query(
        world.database_url,
        "select secret_hash, t::text from gateway.tokens t where name = %s",
        created.token.name,
    )
    assert secret_hash.startswith("scrypt$")
    # tp_<token id>_<secret>: the secret part itself may contain "_" (URL-safe base64).
    assert secret not in whole_row and secret.split("_", 2)[2] not in whole_row
    who = await world.client(secret).principal.get_current_principal()
    assert who.principal.name == "principals/ci"


async def test_token_use_is_recorded(world: World) -> None:
    await world.admin.principal.create_principal(principal_id="ci")
    created = await world.admin.token.create_token(parent="principals/ci", token_id="t1")
    assert not created.token.spec.HasField("last_used_time")
    await world.client(created.secret).principal.get_current_principal()
    await world.gateway.authenticator.close()  # wait for the bookkeeping write
    fetched = await world.admin.token.get_token(name=created.token.name)
    assert fetched.spec.HasField("last_used_time")


async def test_token_requests_are_validated(world: World) -> None:
    await world.admin.principal.create_principal(principal_id="ci")
    expired = token_pb2.Token()
    expired.spec.expire_time.FromSeconds(1)
    with pytest.raises(InvalidArgumentError) as raised:
        await world.admin.token.create_token(parent="principals/ci", token_id="Bad_Id", token=expired)
    assert sorted(v.field for v in raised.value.field_violations) == ["token.spec.expire_time", "token_id"]
    with pytest.raises(NotFoundError):
        await world.admin.token.create_token(parent="principals/nobody", token_id="t")
    assert await query(world.database_url, "select count(*) from gateway.tokens") == [(1,)]  # the admin's


async def test_deleting_a_token_or_its_principal_stops_it(world: World) -> None:
    await world.project("acme")
    first = await world.principal("dev", ("viewer", "projects/acme"))
    second = (await world.admin.token.create_token(parent="principals/dev", token_id="second")).secret
    for token in (first, second):
        await world.client(token).project.get_project(name="projects/acme")
    await world.admin.token.delete_token(name="principals/dev/tokens/second")
    with pytest.raises(UnauthenticatedError):
        await world.client(second).project.get_project(name="projects/acme")
    await world.admin.principal.delete_principal(name="principals/dev")
    with pytest.raises(UnauthenticatedError):
        await world.client(first).project.get_project(name="projects/acme")
    assert await query(world.database_url, "select count(*) from gateway.tokens where parent = 'principals/dev'") == [
        (0,)
    ]


async def test_bootstrap_creates_the_administrator_once(world: World) -> None:
    who = await world.admin.principal.get_current_principal()
    assert who.principal.name == "principals/admin"
    assert [(b.spec.role, b.spec.project) for b in who.role_bindings] == [(5, "")]  # ROLE_OPERATOR
    await world.gateway.stop(grace=0)
    world.gateway = await start_gateway(world.settings)  # the fixture stops this one
    assert world.gateway.bootstrap_token is None
    principals = [p.name async for p in world.client(world.admin_token).principal.list_principals()]
    assert principals == ["principals/admin"]
    assert await query(world.database_url, "select count(*) from gateway.tokens") == [(1,)]
