"""The cluster-manager killed (SIGKILL) mid-provisioning converges after a restart, without
duplicate clusters, emulated clusters or credentials. The service runs as a real subprocess,
``python -m threeport_cluster_manager serve``, configured only through its environment."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.sdk import AsyncClient
from threeport_kubesim.testing import EmulatorHandle
from threeport_runtime.db.engine import libpq_url
from threeport_runtime.testing import (
    REDIS_URL,
    TEST_CREDENTIAL,
    encryption_keys_env,
    free_port,
    make_encryption_keys,
    wait_until,
)

from .conftest import FAST_ENV, SERVICE_IDENTITY
from .helpers import claim_when, is_true


def service_env(database_url: str, stream_prefix: str, port: int, emulator: EmulatorHandle) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("THREEPORT_BACKEND_INFRA", None)
    env.update(FAST_ENV)
    env.update(
        {
            "THREEPORT_DATABASE_URL": database_url,
            "THREEPORT_REDIS_URL": REDIS_URL,
            "THREEPORT_LISTEN_ADDRESS": f"127.0.0.1:{port}",
            "THREEPORT_SERVICE_CREDENTIAL": TEST_CREDENTIAL,
            "THREEPORT_ENCRYPTION_KEYS": encryption_keys_env(make_encryption_keys("k1")),
            "THREEPORT_STREAM_PREFIX": stream_prefix,
            "THREEPORT_KUBESIM_URL": emulator.control_url,
            "THREEPORT_RESYNC_INTERVAL_SECONDS": "2",
        }
    )
    return env


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "threeport_cluster_manager", "serve"], env=env, stdout=output, stderr=output
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def count(database_url: str, table: str) -> int:
    with psycopg.connect(libpq_url(database_url)) as connection:
        row = connection.execute(f"SELECT count(*) FROM clusters.{table}").fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


async def test_killed_mid_provisioning_converges_without_duplicates(
    database_url: str, stream_prefix: str, redis_client: object, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(database_url, stream_prefix, port, emulator)
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "threeport_cluster_manager", "migrate"],
        env=env,
        capture_output=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr.decode()[-2000:]
    log = tmp_path / "cluster-manager.log"
    client = AsyncClient(f"127.0.0.1:{port}", metadata=SERVICE_IDENTITY)
    claims = client.internal.cluster_claim
    before = {c.name for c in emulator.control.list_clusters()}
    try:
        with serving(env, log) as first:

            async def accepting() -> bool:
                try:
                    await claims.create_cluster_claim(
                        cluster_claim_id="survivor",
                        request_id="survivor-1",
                        cluster_claim=cluster_claim_pb2.ClusterClaim(
                            spec=cluster_claim_pb2.ClusterClaimSpec(
                                owner="projects/acme/deployments/survivor",
                                allow_on_demand=True,
                                on_demand_provider="sim",
                            )
                        ),
                        timeout=2,
                    )
                except Exception:
                    return False
                return True

            await wait_until(accepting, within=30, interval=0.2, what="the service to accept the claim")
            await claim_when(client, "clusterClaims/survivor", lambda c: bool(c.status.cluster), "a placement")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        assert count(database_url, "clusters") == 1

        with serving(env, log):
            placed = await claim_when(
                client,
                "clusterClaims/survivor",
                lambda c: is_true(c, "Ready"),
                "the claim to converge after the restart",
                within=60,
            )
            cluster = await client.cluster.get_cluster(name=placed.status.cluster)
            assert is_true(cluster, "Ready") and cluster.status.infrastructure.startswith("sim/")
            assert [c.name async for c in client.cluster.list_clusters()] == [cluster.name]
            added = {c.name for c in emulator.control.list_clusters()} - before
            assert added == {cluster.status.infrastructure.removeprefix("sim/")}
            assert count(database_url, "cluster_credentials") == 1

            # Leave nothing behind in the shared emulator.
            await claims.delete_cluster_claim(name=placed.name)

            async def collected() -> bool:
                return not ({c.name for c in emulator.control.list_clusters()} - before)

            await wait_until(collected, within=30, interval=0.2, what="the on-demand cluster to be collected")
    except BaseException:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        await client.close()
