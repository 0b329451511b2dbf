"""``tptctl cluster create prod-euc1 --provider eks --location Europe:Frankfurt`` ends Ready:
the cluster-manager's ``eks`` driver claims a ClusterInfra from the infra-provider, which builds
it in AWS (moto in server mode), and onboards the cluster exactly as on AWS, with the EKS
endpoint reached through the account's cluster API gateway (a private endpoint) and an
STS-presigned token that the cluster's authenticator verifies against STS. Deleting the cluster
deletes the ClusterInfra and everything it made.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.clusters.conftest import FAST_CONTROLLERS, FAST_ENV, OPERATOR
from tests.clusters.eks_world import EksWorld, eks_world
from tests.clusters.test_cli import tptctl
from tests.infra.conftest import Infra, Moto, infra, moto_eks  # noqa: F401 - fixtures
from tests.infra.test_accounts import aws_account
from tests.infra.test_eks import moto_world
from threeport.infra.v1alpha1 import account_pb2
from threeport.sdk import AsyncClient, Client, NotFoundError
from threeport_cli.commands import clusters as commands
from threeport_cli.exit_codes import ExitCode
from threeport_cluster_manager.service import DEFINITION
from threeport_kubesim.testing import EmulatorHandle
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.runtime import RunningService
from threeport_runtime.testing import make_encryption_keys, make_settings, start_test_service, wait_until


@dataclass
class Manager:
    service: RunningService
    client: AsyncClient


@pytest.fixture
async def world(emulator: EmulatorHandle, moto_eks: Moto) -> AsyncIterator[EksWorld]:  # noqa: F811
    async with eks_world(emulator, moto_eks.endpoint, {moto_eks.access_key_id: moto_eks.secret_access_key}) as found:
        yield found


@pytest.fixture
async def eks_manager(
    infra: Infra,  # noqa: F811
    stream_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Manager]:
    await asyncio.to_thread(upgrade, DEFINITION.migrations_dir, infra.database_url)
    for key, value in FAST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("THREEPORT_KUBESIM_URL", raising=False)
    monkeypatch.setenv("THREEPORT_BACKEND_INFRA", f"127.0.0.1:{infra.service.port}")
    settings = make_settings(
        "cluster_manager", infra.database_url, stream_prefix, encryption_keys=make_encryption_keys("k1")
    )
    service = await start_test_service(DEFINITION, settings, FAST_CONTROLLERS)
    client = AsyncClient(f"127.0.0.1:{service.port}", metadata=OPERATOR)
    monkeypatch.setattr(commands, "context_for", lambda options: None)
    monkeypatch.setattr(commands, "client_for", lambda context: Client(f"127.0.0.1:{service.port}", metadata=OPERATOR))
    try:
        yield Manager(service, client)
    finally:
        await client.close()
        await service.stop(grace=1.0)


async def test_tptctl_creates_an_eks_cluster_that_ends_ready(
    infra: Infra,  # noqa: F811
    moto_eks: Moto,  # noqa: F811
    world: EksWorld,
    eks_manager: Manager,
) -> None:
    before = moto_world(moto_eks)
    account = aws_account(moto_eks, key=moto_eks.access_key_id, secret=moto_eks.secret_access_key, default=True)
    account.spec.cluster_api_gateway.CopyFrom(account_pb2.ClusterApiGateway(url=world.gateway_url))
    await infra.operator.account.create_account(account_id="aws-main", account=account)

    argv = ["cluster", "create", "prod-euc1", "--provider", "eks", "--location", "Europe:Frankfurt", "--wait"]
    if await asyncio.to_thread(tptctl, eks_manager, [*argv, "--timeout", "90s"]) != ExitCode.OK:  # type: ignore[arg-type]
        # Say where it got stuck.
        stuck = await eks_manager.client.cluster.get_cluster(name="clusters/prod-euc1")
        infras = [i async for i in infra.delivery.internal.cluster_infra.list_cluster_infras()]
        raise AssertionError(
            f"not Ready: {stuck.conditions}; infra: {[i.conditions for i in infras]}; {world.reviews[:3]}"
        )

    cluster = await eks_manager.client.cluster.get_cluster(name="clusters/prod-euc1")
    assert cluster.status.region == "eu-central-1"
    assert cluster.status.infrastructure.startswith("clusterInfras/")
    # Onboarded as on AWS: probed through the gateway with the EKS token, which the cluster's
    # authenticator verified with STS.
    assert cluster.status.node_count == 2 and cluster.status.ready_node_count == 2
    built = await infra.delivery.internal.cluster_infra.get_cluster_infra(name=cluster.status.infrastructure)
    eks_name = built.status.eks_cluster_name
    assert world.clusters == [eks_name]
    assert world.reviews and all(ok and c == eks_name for c, ok, _ in world.reviews)
    assert cluster.status.endpoint in (world.gateway_url.replace("{cluster}", eks_name), built.status.endpoint)

    # The token is signed over this cluster's name: another cluster does not take it.
    other = await infra.delivery.internal.cluster_infra.get_cluster_infra_connection(name=built.name)
    assert (await world.verify(eks_name + "-other", other.token))[0] is False
    accepted = await world.verify(eks_name, other.token)
    assert accepted[0] is True, accepted

    await eks_manager.client.cluster.delete_cluster(name=cluster.name)

    async def gone() -> bool:
        try:
            await infra.delivery.internal.cluster_infra.get_cluster_infra(name=built.name)
        except NotFoundError:
            return True
        return False

    # The cluster-manager deletes the ClusterInfra; the infra-provider tears it down.
    await wait_until(gone, within=120, what=f"{built.name} to be deleted")
    assert moto_world(moto_eks) == before
