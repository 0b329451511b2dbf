"""Pod logs as the real API serves them (GET .../pods/NAME/log with container, tailLines,
sinceSeconds, timestamps, limitBytes, follow), read with the official client and with kubectl;
and the emulator's simulation knobs: what containers write, and Job Pods that exit non-zero,
failing their Job once its backoffLimit is spent."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from kubernetes import client

from tests.kubesim.helpers import wait_for
from threeport_kubesim.testing import EmulatorHandle

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
KNOBS = {"kubesim.threeport.io/log": "starting\nmigrating 3 tables\ndone"}


def _pod(core: client.CoreV1Api, namespace: str, name: str, annotations: dict[str, str],
         containers: tuple[str, ...] = ("app",)) -> None:
    core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": annotations},
        "spec": {"containers": [{"name": c, "image": "busybox:1.36"} for c in containers]},
    })
    wait_for(lambda: core.read_namespaced_pod(name, namespace).status.phase == "Running", what=f"{name} running")


def test_logs_tail_since_timestamps_and_limits(core: client.CoreV1Api, namespace: str) -> None:
    _pod(core, namespace, "talker", KNOBS)
    assert core.read_namespaced_pod_log("talker", namespace) == "starting\nmigrating 3 tables\ndone\n"
    assert core.read_namespaced_pod_log("talker", namespace, tail_lines=1) == "done\n"
    assert core.read_namespaced_pod_log("talker", namespace, tail_lines=0) == ""
    assert core.read_namespaced_pod_log("talker", namespace, limit_bytes=5) == "start"
    assert core.read_namespaced_pod_log("talker", namespace, since_seconds=3600).count("\n") == 3
    stamped = core.read_namespaced_pod_log("talker", namespace, timestamps=True).splitlines()
    assert stamped[0].endswith("Z starting") and stamped[0][:4].isdigit()


def test_log_errors_use_the_api_servers_words(core: client.CoreV1Api, namespace: str) -> None:
    _pod(core, namespace, "pair", KNOBS, containers=("a", "b"))
    with pytest.raises(client.ApiException) as error:
        core.read_namespaced_pod_log("pair", namespace)
    assert error.value.status == 400 and "a container name must be specified for pod pair" in error.value.body
    assert core.read_namespaced_pod_log("pair", namespace, container="b") == "starting\nmigrating 3 tables\ndone\n"
    with pytest.raises(client.ApiException) as error:
        core.read_namespaced_pod_log("pair", namespace, container="c")
    assert error.value.status == 400 and "container c is not valid for pod pair" in error.value.body
    with pytest.raises(client.ApiException) as error:
        core.read_namespaced_pod_log("pair", namespace, container="a", tail_lines=-1)
    assert error.value.status == 422
    with pytest.raises(client.ApiException) as error:
        core.read_namespaced_pod_log("missing", namespace)
    assert error.value.status == 404


def test_follow_streams_new_lines_until_the_client_stops(core: client.CoreV1Api, namespace: str) -> None:
    # speed 50: a tick every 5 simulated seconds is one every 0.1 s.
    _pod(core, namespace, "ticker", {"kubesim.threeport.io/log-every": "5"})
    response = core.read_namespaced_pod_log("ticker", namespace, follow=True, _preload_content=False)
    seen: list[str] = []
    started = time.monotonic()
    for chunk in response.stream(64):
        seen.extend(chunk.decode().splitlines())
        if len(seen) >= 15 or time.monotonic() - started > 20:
            break
    response.release_conn()
    assert seen[:3] == ["app: tick 1", "app: tick 2", "app: tick 3"]
    assert len(seen) >= 15 and time.monotonic() - started < 20


def test_a_job_whose_pods_exit_non_zero_fails_with_backoff_limit_exceeded(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(namespace, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
        "spec": {"backoffLimit": 1, "template": {
            "metadata": {"annotations": {"kubesim.threeport.io/exit-code": "3", **KNOBS}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "migrate:1"}]}}},
    })
    job = wait_for(lambda: (j := batch.read_namespaced_job("migrate", namespace)).status.conditions and j,
                   what="job finished")
    failed = {c.type: c for c in job.status.conditions}["Failed"]
    assert failed.status == "True" and failed.reason == "BackoffLimitExceeded"
    assert job.status.failed == 2 and not job.status.succeeded
    pods = core.list_namespaced_pod(namespace).items
    assert len(pods) == 2 and {p.status.phase for p in pods} == {"Failed"}
    terminated = pods[0].status.container_statuses[0].state.terminated
    assert terminated.exit_code == 3 and terminated.reason == "Error"
    assert core.read_namespaced_pod_log(pods[0].metadata.name, namespace, tail_lines=2) == "migrating 3 tables\ndone\n"


@pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed (/usr/bin/kubectl)")
def test_kubectl_logs(emulator: EmulatorHandle, core: client.CoreV1Api, namespace: str) -> None:
    _pod(core, namespace, "talker", KNOBS)
    env = dict(os.environ, KUBECONFIG=emulator.kubeconfig("main"), HOME=str(emulator.kubeconfig_dir))
    result = subprocess.run([KUBECTL, "logs", "talker", "-n", namespace, "--tail=2"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "migrating 3 tables\ndone\n"


def test_a_shell_script_command_writes_its_echoes_and_exits_with_its_code(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    batch = client.BatchV1Api(api)
    script = "echo migrating 3 tables; echo 'ERROR: relation \"users\" already exists' && exit 1; echo never"
    batch.create_namespaced_job(namespace, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "script"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "m", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}}},
    })
    job = wait_for(lambda: (j := batch.read_namespaced_job("script", namespace)).status.conditions and j,
                   what="job finished")
    assert {c.type for c in job.status.conditions} >= {"Failed"}
    pod = core.list_namespaced_pod(namespace).items[0]
    assert pod.status.container_statuses[0].state.terminated.exit_code == 1
    assert core.read_namespaced_pod_log(pod.metadata.name, namespace) == (
        'migrating 3 tables\nERROR: relation "users" already exists\n')
