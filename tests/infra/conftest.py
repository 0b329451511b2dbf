"""The infra test world: AWS is moto in server mode on loopback (one process per session, with
IAM authentication switched on so that bad credentials are refused as AWS would refuse them);
per test a throwaway database and the infra-provider started in-process. Tests call the
service through the SDK as an operator (forwarded by the gateway) or as workload-delivery
(the service credential) for the internal ServiceClaim API.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import boto3
import pytest

from threeport.sdk import AsyncClient
from threeport_infra_provider.service import DEFINITION
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.runtime import RunningService
from threeport_runtime.testing import (  # noqa: F401 - fixtures
    TEST_CREDENTIAL,
    database_url,
    free_port,
    make_encryption_keys,
    make_settings,
    redis_client,
    start_test_service,
    stream_prefix,
)

OPERATOR = (
    ("authorization", f"Service {TEST_CREDENTIAL}"),
    ("x-threeport-principal", "ops@example.com"),
    ("x-threeport-roles", "operator"),
)
SERVICE_IDENTITY = (("authorization", f"Service {TEST_CREDENTIAL}"), ("x-threeport-service", "workload-delivery"))
REGION = "eu-central-1"
ADMIN_POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'


@dataclass(frozen=True)
class Moto:
    """A moto server and the keys of an administrator it knows."""

    endpoint: str
    access_key_id: str
    secret_access_key: str

    def client(self, service: str) -> object:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/moto-api/", timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    yield from moto_server(authenticated=True)


@pytest.fixture(scope="session")
def moto_eks() -> Iterator[Moto]:
    """A moto without IAM authentication, for EKS: moto 5's server recomputes the signature of
    EKS (rest-json) requests wrongly and refuses every one with SignatureDoesNotMatch."""
    yield from moto_server(authenticated=False)


def moto_server(*, authenticated: bool) -> Iterator[Moto]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The first three calls (make an administrator and its keys) need no credentials; every
    # later call is authenticated and authorized as AWS does.
    # AWS managed policies (AmazonEKSClusterPolicy, ...) exist in every real account; moto loads
    # them only when asked.
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    if authenticated:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            if _up(endpoint):
                break
            if process.poll() is not None:
                raise RuntimeError("moto server exited at start")
            time.sleep(0.1)
        iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint,
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="threeport")
        iam.put_user_policy(UserName="threeport", PolicyName="admin", PolicyDocument=ADMIN_POLICY)
        key = iam.create_access_key(UserName="threeport")["AccessKey"]
        found = Moto(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        # moto builds a region's EC2 world (default VPC, subnets, images) on first use, which takes
        # seconds on a busy machine; build it once here rather than inside the first test.
        found.client("ec2").describe_vpcs()  # type: ignore[attr-defined]
        yield found
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Infra:
    service: RunningService
    operator: AsyncClient
    delivery: AsyncClient  # as workload-delivery (the service credential)
    database_url: str


@pytest.fixture
async def infra(
    database_url: str,  # noqa: F811
    stream_prefix: str,  # noqa: F811
    redis_client: object,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Infra]:
    await asyncio.to_thread(upgrade, DEFINITION.migrations_dir, database_url)
    monkeypatch.delenv("THREEPORT_BACKEND_CLUSTERS", raising=False)
    settings = make_settings("infra_provider", database_url, stream_prefix, encryption_keys=make_encryption_keys("k1"))
    service = await start_test_service(DEFINITION, settings)
    target = f"127.0.0.1:{service.port}"
    operator = AsyncClient(target, metadata=OPERATOR)
    delivery = AsyncClient(target, metadata=SERVICE_IDENTITY)
    try:
        yield Infra(service, operator, delivery, database_url)
    finally:
        await operator.close()
        await delivery.close()
        await service.stop(grace=1.0)
