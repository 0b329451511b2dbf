"""Encrypted fields: unreadable in the table, readable through the API, keys rotate."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.runtime.toy_service.tables import SCHEMA, ApplicationRow
from threeport.registry.v1alpha1 import application_pb2 as pb
from threeport_runtime.config import ConfigError, parse_encryption_keys
from threeport_runtime.crypto import DecryptionError, FieldCipher
from threeport_runtime.runtime import ServiceRuntime
from threeport_runtime.testing import encryption_keys_env, make_encryption_keys, make_settings

SECRET = "postgres://admin:hunter2@db/prod"


def runtime_with(database_url: str, stream_prefix: str, keys: object) -> ServiceRuntime:
    return ServiceRuntime(make_settings("toy", database_url, stream_prefix, encryption_keys=keys), SCHEMA)


async def stored_description(runtime: ServiceRuntime, name: str) -> str:
    async with runtime.db.engine.connect() as connection:
        value = await connection.scalar(
            text("SELECT spec->>'description' FROM toy.applications WHERE name = :name"), {"name": name}
        )
    return str(value)


async def test_secret_fields_are_encrypted_at_rest_and_keys_rotate(database_url: str, stream_prefix: str) -> None:
    old_keys = make_encryption_keys("k1")
    before = runtime_with(database_url, stream_prefix, old_keys)
    await before.db.create_schema(SCHEMA.metadata)
    apps = before.repository(ApplicationRow, pb.Application, secret_paths=("spec.description",))
    app = pb.Application()
    app.spec.components["web"].image = "nginx:1"
    app.spec.description = SECRET
    created = await apps.create(app, name="projects/acme/applications/vault")

    at_rest = await stored_description(before, created.name)
    assert SECRET not in at_rest and "hunter2" not in at_rest
    assert at_rest.startswith("enc:v1:k1:")
    assert (await apps.get(created.name)).spec.description == SECRET
    await before.close()

    rotated = runtime_with(database_url, stream_prefix, (*make_encryption_keys("k2"), *old_keys))
    apps = rotated.repository(ApplicationRow, pb.Application, secret_paths=("spec.description",))
    current = await apps.get(created.name)
    assert current.spec.description == SECRET, "old keys still decrypt"
    current.spec.components["web"].image = "nginx:2"
    await apps.update(current)
    assert (await stored_description(rotated, created.name)).startswith("enc:v1:k2:")
    assert (await apps.get(created.name)).spec.description == SECRET
    await rotated.close()


def test_ciphertexts_are_bound_to_their_place_and_key() -> None:
    keys = make_encryption_keys("a", "b")
    cipher = FieldCipher(keys)
    sealed = cipher.encrypt("s3cret", "uid-1:spec.password")
    assert cipher.decrypt(sealed, "uid-1:spec.password") == "s3cret"
    with pytest.raises(DecryptionError):
        cipher.decrypt(sealed, "uid-2:spec.password")
    only_b = FieldCipher(keys[1:])
    with pytest.raises(DecryptionError, match="not configured"):
        only_b.decrypt(sealed, "uid-1:spec.password")
    rotated = FieldCipher(keys[::-1]).rotate(sealed, "uid-1:spec.password")
    assert rotated.startswith("enc:v1:b:") and only_b.decrypt(rotated, "uid-1:spec.password") == "s3cret"


def test_encryption_key_configuration_is_validated() -> None:
    keys = make_encryption_keys("k1", "k2")
    assert [k.key_id for k in parse_encryption_keys(encryption_keys_env(keys))] == ["k1", "k2"]
    with pytest.raises(ConfigError, match="THREEPORT_ENCRYPTION_KEYS"):
        parse_encryption_keys("k1:bm90LWEta2V5")
