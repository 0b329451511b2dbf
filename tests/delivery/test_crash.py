"""workload-delivery killed (SIGKILL) mid-rollout converges after a restart, without duplicate
releases. The service runs as a real subprocess (`python -m threeport_workload_delivery serve`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from threeport.sdk import NO_RETRY, AsyncClient
from threeport_runtime.testing import free_port, wait_until

from .conftest import ADMIN, PARENT, PROJECT, WITHIN, Kube, condition, delivery_env, is_ready
from .samples import RATES, SHOP


def spawn(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "threeport_workload_delivery", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


async def test_killed_mid_rollout_converges_after_restart(world, monkeypatch, emulator) -> None:  # type: ignore[no-untyped-def]
    registry, clusters, kube, _cluster, settings, opened = world
    env = {**os.environ, **delivery_env(monkeypatch, registry.port, clusters.port)}
    port = free_port()
    env.update({
        "THREEPORT_DATABASE_URL": settings.database_url,
        "THREEPORT_REDIS_URL": settings.redis_url,
        "THREEPORT_STREAM_PREFIX": settings.stream_prefix,
        "THREEPORT_SERVICE_CREDENTIAL": settings.service_credential,
        "THREEPORT_LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "THREEPORT_LOG_LEVEL": "WARNING",
    })
    registry_admin = AsyncClient(f"127.0.0.1:{registry.port}", metadata=ADMIN, retry=NO_RETRY)
    delivery = AsyncClient(f"127.0.0.1:{port}", metadata=ADMIN)
    opened += [registry_admin, delivery]
    from google.protobuf import json_format

    from threeport.registry.v1alpha1 import application_pb2

    for app_id, spec in (("rates", RATES), ("shop", SHOP)):
        await registry_admin.application.create_application(
            parent=PARENT, application_id=app_id,
            application=json_format.ParseDict({"spec": spec}, application_pb2.Application()))
    process = spawn(env)
    try:
        async def up() -> bool:
            try:
                await delivery.deployment.list_deployments_page(parent=PARENT)
                return True
            except Exception:
                return False

        await wait_until(up, within=WITHIN, what="workload-delivery to serve")
        await delivery.deployment.deploy(parent=PARENT, application="rates", environment="dev")
        await delivery.deployment.deploy(parent=PARENT, application="shop", environment="dev")
        name = f"{PARENT}/deployments/shop-dev"

        async def mid_rollout() -> bool:
            releases = (await delivery.release.list_releases_page(parent=name)).releases
            found = await delivery.deployment.get_deployment(name=name)
            return bool(releases) and not is_ready(found)

        # A slow API server stretches the apply; kill the service once release 1 exists and its
        # objects are being applied, before the deployment is Ready.
        emulator.control.set_latency(kube.info.name, 150)
        await wait_until(mid_rollout, within=WITHIN, interval=0.02, what="shop to be mid-rollout")
        kill(process)
        emulator.control.set_latency(kube.info.name, 0)
        process = spawn(env)
        await wait_until(up, within=WITHIN, what="workload-delivery to serve again")

        async def ready() -> object:
            found = await delivery.deployment.get_deployment(name=name)
            return found if is_ready(found) else None

        shop = await wait_until(ready, within=WITHIN, interval=0.1, what="shop to converge after the restart")
        assert condition(shop, "Available").status == 1
        releases = (await delivery.release.list_releases_page(parent=name)).releases
        assert [r.number for r in releases] == [1]
        assert Kube.image(kube, f"{PROJECT}-shop-dev", "shop-api") == "registry.example.com/shop/api:1.0.0"
        rates = (await delivery.release.list_releases_page(parent=f"{PARENT}/deployments/rates-dev")).releases
        assert [r.number for r in rates] == [1]
    finally:
        kill(process)
