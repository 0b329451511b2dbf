"""CI without Python: a build reported with ``curl`` through the gateway's HTTP/JSON listener
rolls the deployment of the environment whose rule takes it, and a call without a token is
refused and audited. Registry, cluster-manager, workload-delivery and the gateway all run for
real (the delivery suite's world), Kubernetes is the emulator."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator

import pytest

from tests.delivery.conftest import PARENT, PROJECT, Stack, condition, emulator, stack, world  # noqa: F401
from tests.delivery.samples import RATES
from tests.support import require_tool
from threeport.common.v1alpha1 import annotations_pb2
from threeport.gateway.v1alpha1 import principal_pb2, role_binding_pb2
from threeport.sdk import NO_RETRY, AsyncClient
from threeport_api_gateway.config import GatewaySettings
from threeport_api_gateway.migrations import MIGRATIONS_DIR
from threeport_api_gateway.service import RunningGateway, start_gateway
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.testing import (  # noqa: F401 - fixtures
    database_url,
    make_settings,
    redis_client,
    stream_prefix,
)

IMAGE = "registry.example.com/rates/svc:1.1.0"


@pytest.fixture
async def gateway(stack: Stack, database_url: str, stream_prefix: str) -> AsyncIterator[RunningGateway]:  # noqa: F811
    await asyncio.to_thread(upgrade, MIGRATIONS_DIR, database_url)
    settings = GatewaySettings(
        runtime=make_settings("api-gateway", database_url, stream_prefix),
        backend_addresses={"registry": f"127.0.0.1:{stack.registry.port}",
                           "delivery": f"127.0.0.1:{stack.delivery.port}"},
        http_listen_address="127.0.0.1:0",
    )
    running = await start_gateway(settings)
    try:
        yield running
    finally:
        await running.stop(grace=0)


async def deployer_token(gateway: RunningGateway) -> tuple[AsyncClient, str]:
    admin = AsyncClient(f"127.0.0.1:{gateway.port}", token=gateway.bootstrap_token, retry=NO_RETRY)
    await admin.project.create_project(project_id=PROJECT)
    ci = await admin.principal.create_principal(
        principal_id="ci",
        principal=principal_pb2.Principal(spec=principal_pb2.PrincipalSpec(
            type=principal_pb2.PRINCIPAL_TYPE_SERVICE_ACCOUNT)),
    )
    await admin.role_binding.create_role_binding(
        role_binding_id="ci-deployer",
        role_binding=role_binding_pb2.RoleBinding(spec=role_binding_pb2.RoleBindingSpec(
            principal=ci.name, role=annotations_pb2.ROLE_DEPLOYER, project=PARENT)),
    )
    return admin, (await admin.token.create_token(parent=ci.name)).secret


async def curl(url: str, *args: str) -> tuple[int, dict[str, object]]:
    command = [require_tool(shutil.which("curl"), "curl"), "-sS", "-w", "\n%{http_code}", *args, url]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


async def test_curl_build_report_rolls_the_deployment(stack: Stack, gateway: RunningGateway, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    admin, token = await deployer_token(gateway)
    await stack.apply_application("rates", RATES)
    dev = f"{PARENT}/deployments/rates-dev"
    await stack.deployer.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    await stack.ready(dev)
    build_json = tmp_path / "build.json"
    build_json.write_text(json.dumps(
        {"build": {"spec": {"component": "svc", "image": IMAGE, "branch": "main", "commit": "1a2b3c4"}}}))
    url = f"http://127.0.0.1:{gateway.http_port}/v1alpha1/{PARENT}/applications/rates/builds:report"

    refused, answer = await curl(url, "-d", f"@{build_json}")
    status, build = await curl(url, "-H", f"Authorization: Bearer {token}", "-d", f"@{build_json}")

    assert refused == 401 and answer["error"]["status"] == "UNAUTHENTICATED"  # type: ignore[index]
    assert status == 200, build
    assert str(build["name"]).startswith(f"{PARENT}/applications/rates/builds/")
    await stack.deployment_when(dev, lambda d: d.status.current_release == 2 and condition(d, "Ready").status == 1,
                                "the curl-reported build to roll out to dev")
    assert stack.kube.image(f"{PROJECT}-rates-dev", "rates-svc") == IMAGE
    audited = [(e.principal, e.allowed, e.code) async for e in admin.audit_entry.list_audit_entries(
        filter='method = "/threeport.registry.v1alpha1.BuildService/ReportBuild"')]
    assert sorted(audited) == [("", False, "UNAUTHENTICATED"), ("principals/ci", True, "OK")]
    await admin.close()
