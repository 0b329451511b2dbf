"""AWS access for addons from the infra-provider's accounts (moto): external-secrets installed
with no `roleArn` gets temporary credentials of the default account in a Kubernetes Secret its
ClusterSecretStore reads; they are not re-issued while still good, nor seen in the installation,
its events or the database; `roleArn` instead removes them; an account that does not exist
fails the installation saying so."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf import field_mask_pb2, json_format

from tests.addons.conftest import Stack
from tests.delivery.conftest import condition, is_ready
from tests.infra.conftest import OPERATOR as INFRA_OPERATOR
from tests.infra.conftest import REGION, Moto, moto  # noqa: F401 - the moto server fixture
from tests.infra.test_accounts import aws_account, plaintext_rows
from threeport.addons.v1alpha1 import addon_installation_pb2
from threeport.sdk import AsyncClient
from threeport_infra_provider.service import DEFINITION as INFRA
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.testing import make_encryption_keys, make_settings, start_test_service, wait_until

SECRET = "/api/v1/namespaces/external-secrets/secrets/threeport-aws-credentials"
STORE = "/apis/external-secrets.io/v1beta1/clustersecretstores/aws-secrets-manager"


@pytest.fixture
async def infra_backend(
    database_url: str, stream_prefix: str, moto: Moto, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> AsyncIterator[str]:
    """The infra-provider, with a default account in moto, for the addon-manager to ask."""
    await asyncio.to_thread(upgrade, INFRA.migrations_dir, database_url)
    monkeypatch.delenv("THREEPORT_BACKEND_CLUSTERS", raising=False)
    settings = make_settings("infra_provider", database_url, stream_prefix, encryption_keys=make_encryption_keys("k1"))
    infra = await start_test_service(INFRA, settings)
    operator = AsyncClient(f"127.0.0.1:{infra.port}", metadata=INFRA_OPERATOR)
    try:
        await operator.account.create_account(account_id="aws-main", account=aws_account(
            moto, key=moto.access_key_id, secret=moto.secret_access_key, default=True))
        yield f"127.0.0.1:{infra.port}"
    finally:
        await operator.close()
        await infra.stop(grace=1.0)


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


async def install(stack: Stack, addon: str, values: dict[str, Any] | None = None) -> str:
    installation = addon_installation_pb2.AddonInstallation(
        spec=addon_installation_pb2.AddonInstallationSpec(addon=f"addons/{addon}", cluster=stack.cluster))
    if values:
        installation.spec.values.update(values)
    created = await stack.operator.addon_installation.create_addon_installation(
        addon_installation=installation, addon_installation_id=f"cloud-{addon}")
    return str(created.name)


async def test_external_secrets_gets_scoped_credentials_of_the_default_account(
    stack: Stack, moto: Moto, database_url: str, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.DEBUG)
    name = await install(stack, "external-secrets")
    installed = await stack.installation_when(name, is_ready, "external-secrets Ready", within=90)
    secret = stack.kube.get(SECRET)
    keys = decoded(secret)
    assert set(keys) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert keys["AWS_ACCESS_KEY_ID"] != moto.access_key_id  # temporary credentials, not the account's keys
    assert secret["metadata"]["annotations"]["threeport.io/aws-account"] == "default"
    store = stack.kube.get(STORE)["spec"]["provider"]["aws"]
    assert store["region"] == REGION  # the account's
    assert store["auth"]["secretRef"]["secretAccessKeySecretRef"] == {
        "name": "threeport-aws-credentials", "namespace": "external-secrets", "key": "AWS_SECRET_ACCESS_KEY"}
    controller = stack.kube.get("/apis/apps/v1/namespaces/external-secrets/deployments/external-secrets")
    [container] = controller["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [{"name": "AWS_SECRETSMANAGER_ENDPOINT", "value": moto.endpoint}]
    # The keys are in the cluster's Secret only: not in the installation, its events, the logs or the database.
    assert keys["AWS_SECRET_ACCESS_KEY"] not in caplog.text and keys["AWS_SESSION_TOKEN"] not in caplog.text
    events = await stack.events(name)
    for shown in (installed, *events):
        assert keys["AWS_SECRET_ACCESS_KEY"] not in str(shown) and keys["AWS_SESSION_TOKEN"] not in str(shown)
    for schema in ("addons", "infra"):
        assert plaintext_rows(database_url, keys["AWS_SECRET_ACCESS_KEY"], schema) == []
        assert plaintext_rows(database_url, keys["AWS_SESSION_TOKEN"], schema) == []

    # Converging again (a values change) keeps the credentials while they are good: no new ones.
    version = secret["metadata"]["annotations"]["threeport.io/credentials-version"]
    installed.spec.values.update({"awsRegion": "eu-west-1"})
    await stack.operator.addon_installation.update_addon_installation(
        addon_installation=installed, update_mask=field_mask_pb2.FieldMask(paths=["spec.values"]))

    async def moved() -> bool:
        return bool(stack.kube.get(STORE)["spec"]["provider"]["aws"]["region"] == "eu-west-1")

    await wait_until(moved, within=45, interval=0.2, what="the store to follow the new region")
    assert stack.kube.get(SECRET)["metadata"]["annotations"]["threeport.io/credentials-version"] == version

    # Its own identity (IRSA) instead: the issued credentials are removed, the store uses none.
    current = await stack.operator.addon_installation.get_addon_installation(name=name)
    current.spec.values.update({"roleArn": "arn:aws:iam::123456789012:role/external-secrets"})
    await stack.operator.addon_installation.update_addon_installation(
        addon_installation=current, update_mask=field_mask_pb2.FieldMask(paths=["spec.values"]))

    async def removed() -> bool:
        return stack.kube.get(SECRET) is None and "auth" not in stack.kube.get(STORE)["spec"]["provider"]["aws"]

    await wait_until(removed, within=45, interval=0.2, what="the issued credentials to be removed")


async def test_an_account_that_does_not_exist_fails_the_installation_saying_so(stack: Stack) -> None:
    name = await install(stack, "external-dns", {"account": "accounts/nope"})
    failed = await stack.installation_when(
        name, lambda i: condition(i, "Ready") is not None and condition(i, "Ready").reason == "NoCloudAccess",
        "the installation to fail for want of AWS access", within=60)
    assert "accounts/nope" in condition(failed, "Ready").message
    assert "does not exist" in condition(failed, "Ready").message
    assert stack.kube.get("/apis/apps/v1/namespaces/external-dns/deployments/external-dns") is None  # nothing applied
    assert json_format.MessageToDict(failed.spec.values) == {"account": "accounts/nope"}
