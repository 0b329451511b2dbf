"""What one proxied gRPC hop costs, by the kind of Python gRPC server doing the proxying.

Run: ``python tools/bench/grpc_hop.py``. Needs nothing but grpcio and uvloop. It starts, each in
a process of its own as the services run: an echo backend (grpc.aio on uvloop, a generic
raw-bytes handler that answers with the request), and three raw-bytes proxies in front of it:
grpc.aio on uvloop over TCP (the gateway's shape), grpc.aio reaching the backend over a Unix
socket, and grpc's synchronous server (a thread pool) with a blocking channel. A grpc.aio client
on uvloop in this process makes the same unary call directly and through each proxy, in
interleaved rounds. No proxy does any work beyond forwarding, so what a path costs over the
direct call is the hop alone: the floor of any gateway built on that stack.

Per path: p50 and p99 wall-clock, the ratio of its p50 to the direct call's, and the CPU time
of every process here per call (client, proxies and backend, from ``/proc``; an idle proxy
costs nothing). Last line: ``RESULT key=value ...``. Results: ``tools/bench/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from typing import Any

import grpc
import uvloop

SERVICE, METHOD = "bench.Echo", "Get"
PATH = f"/{SERVICE}/{METHOD}"
PAYLOAD = b"x" * 400  # about a Get's answer (an application's serialized message)
WARMUP_CALLS = 200


def _same(data: bytes) -> bytes:
    return data


def _handlers(behaviour: Any) -> Any:
    return grpc.method_handlers_generic_handler(
        SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(behaviour, _same, _same)})


def serve_backend(address: str, socket_path: str) -> None:
    """The echo backend, on TCP and a Unix socket."""

    async def echo(request: bytes, _context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return request

    async def main() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((_handlers(echo),))
        server.add_insecure_port(address)
        server.add_insecure_port(f"unix:{socket_path}")
        await server.start()
        await server.wait_for_termination()

    uvloop.run(main())


def serve_aio_proxy(address: str, target: str) -> None:
    """A grpc.aio raw-bytes proxy, as the gateway forwards."""

    async def main() -> None:
        channel = grpc.aio.insecure_channel(target)
        call = channel.unary_unary(PATH, request_serializer=_same, response_deserializer=_same)

        async def forward(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            return bytes(await call(request, metadata=context.invocation_metadata()))

        server = grpc.aio.server()
        server.add_generic_rpc_handlers((_handlers(forward),))
        server.add_insecure_port(address)
        await server.start()
        await server.wait_for_termination()

    uvloop.run(main())


def serve_sync_proxy(address: str, target: str) -> None:
    """grpc's synchronous server forwarding over a blocking channel."""
    channel = grpc.insecure_channel(target)
    call = channel.unary_unary(PATH, request_serializer=_same, response_deserializer=_same)

    def forward(request: bytes, context: grpc.ServicerContext) -> bytes:
        return bytes(call(request, metadata=context.invocation_metadata()))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((_handlers(forward),))
    server.add_insecure_port(address)
    server.start()
    server.wait_for_termination()


ROLES = {"backend": serve_backend, "aio-proxy": serve_aio_proxy, "sync-proxy": serve_sync_proxy}


def cpu_seconds(pid: int) -> float:
    """User and system time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def timed_calls(target: str, calls: int) -> list[float]:
    """Seconds each of ``calls`` unary calls took, after a warm-up on the same channel."""
    async with grpc.aio.insecure_channel(target) as channel:
        # The servers start with this script: wait for one to listen rather than guess how long.
        await asyncio.wait_for(channel.channel_ready(), timeout=30.0)
        call = channel.unary_unary(PATH, request_serializer=_same, response_deserializer=_same)
        for _ in range(WARMUP_CALLS):
            await call(PAYLOAD)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            await call(PAYLOAD)
            times.append(time.perf_counter() - started)
        return times


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per path per round (default 3000)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    parser.add_argument("--serve", nargs=3, metavar=("ROLE", "ADDRESS", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        role, address, target = args.serve
        ROLES[role](address, target)
        return
    with tempfile.TemporaryDirectory() as scratch:
        socket_path = os.path.join(scratch, "backend.sock")
        backend = f"127.0.0.1:{free_port()}"
        paths = {"direct": backend}
        servers = {"backend": subprocess.Popen([sys.executable, __file__, "--serve", "backend", backend, socket_path])}
        for path, role, target in (("aio", "aio-proxy", backend), ("aio_unix", "aio-proxy", f"unix:{socket_path}"),
                                   ("sync", "sync-proxy", backend)):
            paths[path] = f"127.0.0.1:{free_port()}"
            servers[path] = subprocess.Popen([sys.executable, __file__, "--serve", role, paths[path], target])
        try:
            for target in paths.values():  # every server up before any CPU is counted
                uvloop.run(timed_calls(target, 0))
            latencies: dict[str, list[float]] = {path: [] for path in paths}
            cpu_per_call: dict[str, list[float]] = {path: [] for path in paths}
            for _ in range(args.rounds):
                for path, target in paths.items():
                    before = sum(cpu_seconds(s.pid) for s in servers.values()) + own_cpu_seconds()
                    latencies[path] += uvloop.run(timed_calls(target, args.calls))
                    after = sum(cpu_seconds(s.pid) for s in servers.values()) + own_cpu_seconds()
                    cpu_per_call[path].append((after - before) / args.calls * 1000)
        finally:
            for server in servers.values():
                server.kill()
                server.wait()
    direct_p50 = statistics.median(latencies["direct"])
    direct_cpu = statistics.median(cpu_per_call["direct"])
    result: dict[str, str] = {}
    for path, times in latencies.items():
        ordered = sorted(times)
        p50, p99 = statistics.median(ordered), ordered[int(len(ordered) * 0.99)]
        cpu = statistics.median(cpu_per_call[path])
        print(f"{path:9s} p50 {p50 * 1000:.3f} ms  p99 {p99 * 1000:.3f} ms  ratio {p50 / direct_p50:.2f}  "
              f"CPU {cpu:.3f} ms per call (cpu ratio {cpu / direct_cpu:.2f})", file=sys.stderr)
        result[f"{path}_p50_ms"] = f"{p50 * 1000:.3f}"
        if path != "direct":
            result[f"{path}_ratio"] = f"{p50 / direct_p50:.2f}"
            result[f"{path}_cpu_ratio"] = f"{cpu / direct_cpu:.2f}"
    print("RESULT " + " ".join(f"{key}={value}" for key, value in result.items()))


if __name__ == "__main__":
    main()
