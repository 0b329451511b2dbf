"""``tptctl account add`` against a running infra-provider (the SDK client pointed straight at
the service with an operator's forwarded identity, as the gateway would forward it)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from tests.infra.conftest import OPERATOR, REGION, Infra, Moto
from tests.infra.test_accounts import aws_account
from threeport.infra.v1alpha1 import service_claim_pb2
from threeport.sdk import Client
from threeport_cli.commands import accounts as commands
from threeport_cli.commands import resources as resource_commands
from threeport_cli.errors import report
from threeport_cli.exit_codes import ExitCode
from threeport_runtime.testing import wait_until


def tptctl(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tptctl")
    commands.register(parser.add_subparsers(dest="command"))
    try:
        options = parser.parse_args(argv)
        return int(options.run(options))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    except Exception as error:
        return int(report(error))


@pytest.fixture
def direct(infra: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    target = f"127.0.0.1:{infra.service.port}"
    monkeypatch.setattr(commands, "context_for", lambda options: None)
    monkeypatch.setattr(commands, "client_for", lambda context: Client(target, metadata=OPERATOR))


async def test_account_add_from_env_and_refusals(
    infra: Infra, moto: Moto, direct: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.secret_access_key)
    base = ["account", "add", "aws", "main", "--region", REGION, "--endpoint-url", moto.endpoint]
    code = await asyncio.to_thread(tptctl, [*base, "--credentials-from-env", "--default"])
    assert code == ExitCode.OK
    assert "verified as arn:aws:iam::123456789012:user/threeport (default)" in capsys.readouterr().out
    stored = await infra.operator.account.get_account(name="accounts/main")
    assert stored.spec.default and stored.spec.endpoint_url == moto.endpoint

    # Two ways at once, or none, is a usage error before any call.
    assert await asyncio.to_thread(tptctl, [*base, "--credentials-from-env", "--ambient"]) == ExitCode.USAGE
    assert await asyncio.to_thread(tptctl, base) == ExitCode.USAGE
    # Refused by AWS: the reason, and nothing stored.
    wrong = ["account", "add", "aws", "wrong", "--region", REGION, "--endpoint-url", moto.endpoint,
             "--access-key-id", "AKIAWRONG", "--secret-access-key", "nope"]
    assert await asyncio.to_thread(tptctl, wrong) == ExitCode.CONFLICT  # FAILED_PRECONDITION
    assert "InvalidClientTokenId" in capsys.readouterr().err
    page = await infra.operator.account.list_accounts_page()
    assert [a.name for a in page.accounts] == ["accounts/main"]

    # A role assumed with the given keys: verified as the assumed role.
    role = ["account", "add", "aws", "via-role", "--region", REGION, "--endpoint-url", moto.endpoint,
            "--credentials-from-env", "--role-arn", "arn:aws:iam::123456789012:role/threeport", "--external-id", "x1"]
    assert await asyncio.to_thread(tptctl, role) == ExitCode.OK
    assert "assumed-role/threeport/threeport-infra-provider" in capsys.readouterr().out
    stored = await infra.operator.account.get_account(name="accounts/via-role")
    assert stored.spec.aws.role_arn.endswith(":role/threeport") and not stored.spec.aws.access_key_id


async def test_get_and_describe_services_show_no_secret(
    infra: Infra, moto: Moto, direct: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"127.0.0.1:{infra.service.port}"
    monkeypatch.setattr(resource_commands, "context_for", lambda options: None)
    monkeypatch.setattr(resource_commands, "project_for", lambda options, context: "")
    monkeypatch.setattr(resource_commands, "client_for", lambda context: Client(target, metadata=OPERATOR))
    await infra.operator.account.create_account(account_id="main", account=aws_account(
        moto, key=moto.access_key_id, secret=moto.secret_access_key, default=True))
    claim = service_claim_pb2.ServiceClaim(spec=service_claim_pb2.ServiceClaimSpec(
        owner="projects/acme/deployments/shop-prod", dependency="keys", type="secret",
        implementation="aws-secretsmanager"))
    claim.spec.parameters.update({"keys": ["token"]})
    await infra.delivery.internal.service_claim.create_service_claim(service_claim_id="keys", service_claim=claim)

    async def bound() -> Any:
        found = await infra.delivery.internal.service_claim.get_service_claim(name="serviceClaims/keys")
        return found if found.status.outputs.secrets else None

    secrets = dict((await wait_until(bound, within=60, what="the claim's outputs")).status.outputs.secrets)
    (service,) = (await infra.operator.managed_service.list_managed_services_page()).managed_services
    parser = argparse.ArgumentParser(prog="tptctl")
    resource_commands.register(parser.add_subparsers(dest="command"))

    def run(argv: list[str]) -> int:
        options = parser.parse_args(argv)
        return int(options.run(options))

    assert await asyncio.to_thread(run, ["get", "services"]) == ExitCode.OK
    assert service.name.removeprefix("managedServices/") in capsys.readouterr().out
    assert await asyncio.to_thread(run, ["describe", "service", service.name]) == ExitCode.OK
    shown = capsys.readouterr().out
    assert "aws-secretsmanager" in shown and "threeport/" in shown
    assert secrets and all(value not in shown for value in secrets.values())


async def test_account_add_with_a_cluster_api_gateway(
    infra: Infra, moto: Moto, direct: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.secret_access_key)
    ca = tmp_path / "gateway-ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    base = ["account", "add", "aws", "private", "--region", REGION, "--endpoint-url", moto.endpoint,
            "--credentials-from-env"]  # fmt: skip
    # Without {cluster} the gateway could not tell clusters apart: refused, nothing stored.
    bad = [*base, "--cluster-api-gateway", "https://gw.internal:8443/"]
    assert await asyncio.to_thread(tptctl, bad) == ExitCode.INVALID_INPUT
    assert not (await infra.operator.account.list_accounts_page()).accounts
    good = [*base, "--cluster-api-gateway", "https://gw.internal:8443/{cluster}", "--cluster-api-gateway-ca", str(ca)]
    assert await asyncio.to_thread(tptctl, good) == ExitCode.OK
    stored = await infra.operator.account.get_account(name="accounts/private")
    assert stored.spec.cluster_api_gateway.url == "https://gw.internal:8443/{cluster}"
    assert stored.spec.cluster_api_gateway.certificate_authority_data == ca.read_bytes()
