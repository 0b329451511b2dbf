"""Benchmark of workload-delivery (DESIGN §11): create -> Ready latency of a 2-component app on
an emulated cluster (target p50 <= 1 s), and convergence time of N deployments over M clusters.

Run: ``python tools/bench/delivery.py [--samples 20] [--deployments 100] [--clusters 5]``
(PostgreSQL and Redis as for the tests). Registry, cluster-manager and workload-delivery run in
this process on one throwaway database; the clusters are one Kubernetes API emulator.

Baseline, measured in the same run: applying the same rendered objects straight to the emulator
and waiting for its Deployments to become available (what the cluster alone takes), so
``latency_ratio`` is the platform's overhead on top of Kubernetes.

The defaults (100 deployments over 5 clusters) are smaller than DESIGN's 10,000 x 100 so that
a run finishes in a few minutes on 2 cores; pass larger values to measure more.
Last line: ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport.sdk import NO_RETRY, AsyncClient
from threeport_cluster_manager.service import DEFINITION as CLUSTERS
from threeport_kubesim.testing import run_emulator
from threeport_registry.service import DEFINITION as REGISTRY
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.connection import Connection
from threeport_runtime.logs import configure_logging
from threeport_runtime.reconcile.controller import ControllerOptions
from threeport_runtime.testing import (
    TEST_CREDENTIAL,
    delete_streams,
    make_encryption_keys,
    make_settings,
    start_test_service,
    throwaway_database,
    unique_stream_prefix,
)
from threeport_workload_delivery.domain.rendering import RenderInput, render
from threeport_workload_delivery.service import DEFINITION as DELIVERY

PARENT = "projects/bench"
OPTIONS = ControllerOptions(workers=16, resync_interval=600.0, lease_ttl=10.0, claim_interval=0.5)
APP = {
    "components": {
        "api": {"image": "registry.example.com/bench/api:1", "replicas": 2, "ports": [{"name": "http", "port": 80}],
                "env": {"MODE": "bench"}},
        "worker": {"image": "registry.example.com/bench/worker:1"},
    }
}


def meta(principal: str, roles: str) -> list[tuple[str, str]]:
    return [("authorization", f"Service {TEST_CREDENTIAL}"), ("x-threeport-principal", principal),
            ("x-threeport-roles", roles)]


def ready(resource: Any) -> bool:
    return any(c.type == "Ready" and c.status == 1 and c.observed_generation == resource.generation
               for c in resource.conditions)


async def until(probe: Any, interval: float) -> None:
    """Polls ``probe`` (an async predicate) every ``interval`` seconds until it is true."""
    while True:
        if await probe():
            return
        await asyncio.sleep(interval)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def baseline(kube: Any, samples: int) -> list[float]:
    """The same objects applied directly, then polled until the Deployments are available."""
    # Emulated clusters serve HTTPS with their own CA.
    ca = base64.b64decode(kube.ca_data) if kube.ca_data else b""
    client = KubeClient(Connection(server=kube.server, token=kube.token, certificate_authority_data=ca))
    spec = json_format.ParseDict(APP, application_pb2.ApplicationSpec())
    times = []
    try:
        for index in range(samples):
            objects = render(RenderInput("bench", f"{PARENT}/deployments/raw{index}-dev", f"raw{index}", "dev",
                                         f"raw-{index}", spec, {}, {}))
            started = time.perf_counter()
            for manifest in objects:
                await client.apply(manifest)
            workloads = [o for o in objects if o["kind"] == "Deployment"]

            async def available(workloads: list[Any] = workloads) -> bool:
                live = [await client.get(o) for o in workloads]
                return all(x and (x.get("status") or {}).get("availableReplicas", 0) >= o["spec"]["replicas"]
                           for x, o in zip(live, workloads, strict=True))

            await until(available, 0.01)
            times.append(time.perf_counter() - started)
    finally:
        await client.close()
    return times


async def main(arguments: argparse.Namespace) -> None:
    configure_logging("bench", "WARNING")
    prefix = unique_stream_prefix()
    with run_emulator([], speed=arguments.speed) as emulator:
        async with throwaway_database() as url:
            for definition in (REGISTRY, CLUSTERS, DELIVERY):
                await asyncio.to_thread(upgrade, definition.migrations_dir, url)
            os.environ["THREEPORT_KUBESIM_URL"] = emulator.control_url
            registry = await start_test_service(REGISTRY, make_settings("registry", url, prefix), OPTIONS)
            clusters = await start_test_service(
                CLUSTERS, make_settings("cluster_manager", url, prefix, encryption_keys=make_encryption_keys()),
                OPTIONS)
            # Production intervals: how delivery learns of rollout progress is part of what is measured.
            os.environ.update({"THREEPORT_BACKEND_REGISTRY": f"127.0.0.1:{registry.port}",
                               "THREEPORT_BACKEND_CLUSTERS": f"127.0.0.1:{clusters.port}"})
            for setting in ("THREEPORT_DELIVERY_POLL_SECONDS", "THREEPORT_DELIVERY_DRIFT_SECONDS"):
                os.environ.pop(setting, None)
            delivery = await start_test_service(DELIVERY, make_settings("workload_delivery", url, prefix), OPTIONS)
            admin = meta("principals/bench", f"admin@{PARENT}")
            reg = AsyncClient(f"127.0.0.1:{registry.port}", metadata=admin, retry=NO_RETRY)
            ops = AsyncClient(f"127.0.0.1:{clusters.port}", metadata=meta("principals/ops", "operator"))
            dlv = AsyncClient(f"127.0.0.1:{delivery.port}", metadata=admin)
            try:
                infos = []
                for index in range(arguments.clusters):
                    info = emulator.add_cluster(f"bench-{index}-{uuid.uuid4().hex[:4]}", nodes=4)
                    infos.append(info)
                    kubeconfig = await asyncio.to_thread(Path(info.kubeconfig_path).read_text)
                    await ops.cluster.attach_cluster(cluster_id=info.name, kubeconfig=kubeconfig)
                for info in infos:
                    async def attached(name: str = f"clusters/{info.name}") -> bool:
                        return ready(await ops.cluster.get_cluster(name=name))

                    await until(attached, 0.05)
                await reg.environment.create_environment(
                    parent=PARENT, environment_id="dev",
                    environment=environment_pb2.Environment(spec=environment_pb2.EnvironmentSpec()))
                spec = json_format.ParseDict({"spec": APP}, application_pb2.Application())

                base = await baseline(infos[0], arguments.samples)
                latencies = []
                for index in range(arguments.samples):
                    await reg.application.create_application(parent=PARENT, application_id=f"lat{index}",
                                                              application=spec)
                    started = time.perf_counter()
                    created = await dlv.deployment.deploy(parent=PARENT, application=f"lat{index}", environment="dev")
                    async def is_up(name: str = created.name) -> bool:
                        return ready(await dlv.deployment.get_deployment(name=name))

                    await until(is_up, 0.01)
                    latencies.append(time.perf_counter() - started)

                names = []
                for index in range(arguments.deployments):
                    await reg.application.create_application(parent=PARENT, application_id=f"scale{index}",
                                                              application=spec)
                started = time.perf_counter()
                for index in range(arguments.deployments):
                    created = await dlv.deployment.deploy(parent=PARENT, application=f"scale{index}",
                                                          environment="dev")
                    names.append(created.name)
                pending = set(names)

                async def all_ready() -> bool:
                    for name in list(pending):
                        if ready(await dlv.deployment.get_deployment(name=name)):
                            pending.discard(name)
                    return not pending

                await until(all_ready, 0.1)
                converge = time.perf_counter() - started
            finally:
                for made in (reg, ops, dlv):
                    await made.close()
                for service in (delivery, clusters, registry):
                    await service.stop(grace=1.0)
                import redis.asyncio as aioredis

                client = aioredis.from_url(os.environ.get("THREEPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
                await delete_streams(client, prefix)
                await client.aclose()
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    b50 = statistics.median(base)
    print(f"create->Ready (2 components, {arguments.samples} samples): p50 {p50 * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms; direct apply baseline p50 {b50 * 1000:.0f} ms")
    print(f"{arguments.deployments} deployments over {arguments.clusters} clusters converged in {converge:.1f} s")
    print(f"RESULT ready_p50_ms={p50 * 1000:.0f} ready_p99_ms={p99 * 1000:.0f} baseline_p50_ms={b50 * 1000:.0f} "
          f"latency_ratio={p50 / b50:.2f} deployments={arguments.deployments} clusters={arguments.clusters} "
          f"converge_s={converge:.1f} per_deployment_ms={converge / arguments.deployments * 1000:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=5)
    parser.add_argument("--speed", type=float, default=50.0, help="emulator time scale")
    asyncio.run(main(parser.parse_args()))
