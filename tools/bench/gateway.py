"""Benchmark of the API gateway (DESIGN §11): overhead on a unary call and API latency.

Run: ``python tools/bench/gateway.py`` (PostgreSQL and Redis as for the tests). It starts a
migrated gateway and a stand-in backend in this process. The stand-in serves
``GetApplication`` by reading one row from PostgreSQL, as a real Get does, so the comparison
is the same unary call made directly to the backend (with the service credential) and through
the gateway (bearer token, policy check, rate limit, raw-bytes proxy). It also measures the
gateway's own Create/Get latency (``CreateProject``/``GetProject``), warm. Last line:
``RESULT key=value ...``.

A third path is a bare proxy: a raw-bytes generic handler with no interceptors and no checks
that forwards over a plain channel, in the same process. It is the floor of any gateway - the
cost of the extra gRPC hop alone - so ``gateway_vs_bare_ratio`` is what the gateway's own layers
(access check, tracing, metrics, error mapping) add on top of the hop.

Besides wall-clock latency it reports the CPU time this process spends per call on each path
(client, gateway and backend all run here; PostgreSQL does not): on a shared machine wall-clock
ratios swing with the load, CPU per call much less. ``--loop asyncio`` runs on the standard
event loop instead of uvloop, which the services use in production.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import psycopg
from sqlalchemy import text

from threeport.common.v1alpha1 import annotations_pb2
from threeport.gateway.v1alpha1 import role_binding_pb2
from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.sdk import AsyncClient
from threeport_api_gateway.config import GatewaySettings
from threeport_api_gateway.migrations import MIGRATIONS_DIR
from threeport_api_gateway.service import start_gateway
from threeport_runtime import eventloop
from threeport_runtime.db.engine import Database, libpq_url
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.rpc.identity import ServiceCredentialAuthenticator
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.testing import ADMIN_DATABASE_URL, TEST_CREDENTIAL, make_settings, unique_stream_prefix

WARMUP = 200
CALLS = 2000
APPLICATION_SERVICE = "threeport.registry.v1alpha1.ApplicationService"


def _admin(statement: str) -> None:
    with psycopg.connect(libpq_url(ADMIN_DATABASE_URL), autocommit=True) as connection:
        connection.execute(statement)


async def start_backend(db: Database) -> GrpcServer:
    """A registry stand-in whose GetApplication reads a row, like a real Get."""

    async def get(request: app_pb2.GetApplicationRequest, context: Any) -> app_pb2.Application:
        async with db.session() as session:
            name = await session.scalar(text("select :name"), {"name": request.name})
        return app_pb2.Application(name=str(name), generation=1)

    handler = grpc.method_handlers_generic_handler(
        APPLICATION_SERVICE,
        {
            "GetApplication": grpc.unary_unary_rpc_method_handler(
                get,
                request_deserializer=app_pb2.GetApplicationRequest.FromString,
                response_serializer=app_pb2.Application.SerializeToString,
            )
        },
    )
    server = GrpcServer("127.0.0.1:0", ServiceCredentialAuthenticator(TEST_CREDENTIAL))
    server.add_service(APPLICATION_SERVICE, lambda s: s.add_generic_rpc_handlers([handler]))
    await server.start()
    return server


async def start_bare_proxy(backend_port: int, identity: list[tuple[str, str]]) -> tuple[grpc.aio.Server, int]:
    """A proxy with nothing but the hop: bytes in, the same bytes to the backend, bytes back."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{backend_port}")
    call = channel.unary_unary(f"/{APPLICATION_SERVICE}/GetApplication", None, None)

    async def forward(request: bytes, context: Any) -> bytes:
        response: bytes = await call(request, metadata=identity, timeout=10)
        return response

    handler = grpc.method_handlers_generic_handler(
        APPLICATION_SERVICE, {"GetApplication": grpc.unary_unary_rpc_method_handler(forward)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def latencies(
    call: Callable[[], Awaitable[Any]], count: int, cpu: list[float] | None = None
) -> list[float]:
    """Wall-clock seconds of ``count`` calls after a warm-up; adds their CPU seconds to ``cpu``."""
    for _ in range(WARMUP):
        await call()
    samples = []
    cpu_started = time.process_time()
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    if cpu is not None:
        cpu.append(time.process_time() - cpu_started)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main() -> None:
    name = f"tp_bench_gw_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_DATABASE_URL.rpartition('/')[0]}/{name}"
    try:
        await asyncio.to_thread(upgrade, MIGRATIONS_DIR, url)
        backend_db = Database(url)
        backend = await start_backend(backend_db)
        settings = GatewaySettings(
            runtime=make_settings("api-gateway", url, unique_stream_prefix()),
            backend_addresses={"registry": f"127.0.0.1:{backend.port}"},
            rate_limit_per_second=0,
        )
        gateway = await start_gateway(settings)
        assert gateway.bootstrap_token is not None
        try:
            await measure(gateway.port, backend.port, gateway.bootstrap_token)
        finally:
            await gateway.stop(grace=0)
            await backend.stop(0)
            await backend_db.dispose()
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def measure(gateway_port: int, backend_port: int, admin_token: str) -> None:
    async with AsyncClient(f"127.0.0.1:{gateway_port}", token=admin_token) as admin:
        await admin.project.create_project(project_id="bench")
        await admin.principal.create_principal(principal_id="dev")
        await admin.role_binding.create_role_binding(
            role_binding_id="dev-viewer",
            role_binding=role_binding_pb2.RoleBinding(
                spec=role_binding_pb2.RoleBindingSpec(
                    principal="principals/dev", role=annotations_pb2.ROLE_VIEWER, project="projects/bench"
                )
            ),
        )
        token = (await admin.token.create_token(parent="principals/dev")).secret

        request = app_pb2.GetApplicationRequest(name="projects/bench/applications/shop")
        service_identity = [
            ("authorization", f"Service {TEST_CREDENTIAL}"),
            ("x-threeport-principal", "principals/dev"),
            ("x-threeport-roles", "viewer@projects/bench"),
        ]
        bare_server, bare_port = await start_bare_proxy(backend_port, service_identity)
        paths = ("direct", "bare", "gateway")
        samples: dict[str, list[float]] = {path: [] for path in paths}
        cpu: dict[str, list[float]] = {path: [] for path in paths}
        async with (
            AsyncClient(f"127.0.0.1:{backend_port}", metadata=service_identity) as direct,
            AsyncClient(f"127.0.0.1:{bare_port}") as bare,
            AsyncClient(f"127.0.0.1:{gateway_port}", token=token) as proxied,
        ):
            clients = {"direct": direct, "bare": bare, "gateway": proxied}
            # Interleave rounds so that machine noise hits every path alike.
            for _ in range(4):
                for path in paths:
                    get = functools.partial(clients[path].application.get_application, request=request)
                    samples[path] += await latencies(get, CALLS // 4, cpu[path])
        await bare_server.stop(0)

        counter = iter(range(1_000_000))
        creates = await latencies(lambda: admin.project.create_project(project_id=f"p{next(counter)}"), 300)
        gets = await latencies(lambda: admin.project.get_project(name="projects/bench"), CALLS)

    p50 = {path: statistics.median(samples[path]) for path in paths}
    p99 = {path: percentile(samples[path], 0.99) for path in paths}
    cpu_ms = {path: sum(cpu[path]) / len(samples[path]) * 1e3 for path in paths}
    api = creates + gets
    for label, found in (
        ("direct  GetApplication", samples["direct"]),
        ("bare    GetApplication", samples["bare"]),
        ("gateway GetApplication", samples["gateway"]),
        ("gateway CreateProject ", creates),
        ("gateway GetProject    ", gets),
    ):
        print(f"{label} p50 {statistics.median(found) * 1e3:.2f} ms  p99 {percentile(found, 0.99) * 1e3:.2f} ms")
    print("CPU per GetApplication: " + ", ".join(f"{path} {cpu_ms[path]:.3f} ms" for path in paths))
    print(
        f"RESULT direct_p50_ms={p50['direct'] * 1e3:.2f} gateway_p50_ms={p50['gateway'] * 1e3:.2f} "
        f"overhead_ratio={p50['gateway'] / p50['direct']:.2f} "
        f"overhead_p99_ratio={p99['gateway'] / p99['direct']:.2f} "
        f"bare_p50_ms={p50['bare'] * 1e3:.2f} bare_ratio={p50['bare'] / p50['direct']:.2f} "
        f"gateway_vs_bare_ratio={p50['gateway'] / p50['bare']:.2f} "
        f"direct_cpu_ms={cpu_ms['direct']:.3f} bare_cpu_ms={cpu_ms['bare']:.3f} gateway_cpu_ms={cpu_ms['gateway']:.3f} "
        f"overhead_cpu_ratio={cpu_ms['gateway'] / cpu_ms['direct']:.2f} "
        f"api_p50_ms={statistics.median(api) * 1e3:.2f} api_p99_ms={percentile(api, 0.99) * 1e3:.2f} "
        f"create_p50_ms={statistics.median(creates) * 1e3:.2f} get_p50_ms={statistics.median(gets) * 1e3:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="the event loop (uvloop, as the services run in production)")
    if parser.parse_args().loop == "uvloop":
        eventloop.run(main())
    else:
        asyncio.run(main())
