"""Pod logs as the API server serves them, judged by kubectl and the official client:
``kubectl logs`` (container choice, --tail, --timestamps, --since, -f until the pod goes) and the
API server's refusals (several containers and none chosen, a container not started yet)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid

import pytest
from kubernetes import client

from tests.kubesim.helpers import wait_for
from tests.kubesim.test_kubectl import KUBECTL, _kubectl
from threeport_kubesim.testing import EmulatorHandle

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed (/usr/bin/kubectl)")


def _pod(core: client.CoreV1Api, namespace: str, containers: list[dict[str, object]],
         annotations: dict[str, str] | None = None) -> str:
    name = f"p-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"containers": containers},
    })
    return name


def _running(core: client.CoreV1Api, namespace: str, name: str) -> None:
    wait_for(lambda: core.read_namespaced_pod(name, namespace).status.phase == "Running", what=f"{name} running")


def test_kubectl_logs_shows_the_emulated_stream(emulator: EmulatorHandle, core: client.CoreV1Api,
                                                namespace: str) -> None:
    name = _pod(core, namespace, [{"name": "api", "image": "shop/api:1.0",
                                   "ports": [{"containerPort": 8080, "name": "http"}]}],
                annotations={"kubesim.threeport.io/log": "migrated 3 tables\nready"})
    _running(core, namespace, name)
    wait_for(lambda: "\"heartbeat\" n=2" in _kubectl(emulator, "logs", "-n", namespace, name), what="two heartbeats")
    out = _kubectl(emulator, "logs", "-n", namespace, name).splitlines()
    assert out[0] == 'level=info msg="starting container" container=api image=shop/api:1.0'
    assert out[1] == 'level=info msg="listening" port=8080 protocol=TCP name=http'
    assert out[2:4] == ["migrated 3 tables", "ready"]
    assert out[4] == 'level=info msg="heartbeat" n=1'

    tail = _kubectl(emulator, "logs", "-n", namespace, name, "--tail", "2").splitlines()
    assert len(tail) == 2 and all("heartbeat" in line for line in tail)
    assert _kubectl(emulator, "logs", "-n", namespace, name, "--tail", "0") == ""
    stamped = _kubectl(emulator, "logs", "-n", namespace, name, "--timestamps", "--tail", "1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z level=info msg=\"heartbeat\" n=\d+\n", stamped)
    # --since leaves out the start-up lines, written before the last second.
    time.sleep(1.2)
    recent = _kubectl(emulator, "logs", "-n", namespace, name, "--since", "1s")
    assert "starting container" not in recent and "heartbeat" in recent
    # The official client reads the same endpoint.
    assert core.read_namespaced_pod_log(name, namespace, tail_lines=1).startswith('level=info msg="heartbeat"')


def test_kubectl_logs_follow_streams_until_the_pod_goes(emulator: EmulatorHandle, core: client.CoreV1Api,
                                                        namespace: str) -> None:
    name = _pod(core, namespace, [{"name": "worker", "image": "shop/worker:1.0"}])
    _running(core, namespace, name)
    env = dict(os.environ, KUBECONFIG=emulator.kubeconfig("main"), HOME=str(emulator.kubeconfig_dir))
    follower = subprocess.Popen([KUBECTL, "logs", "-f", "-n", namespace, name], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert follower.stdout is not None
        seen = []
        while len([line for line in seen if "heartbeat" in line]) < 5:
            seen.append(follower.stdout.readline())
        numbers = [int(line.rsplit("=", 1)[1]) for line in seen if "heartbeat" in line]
        assert numbers == list(range(numbers[0], numbers[0] + 5)), "lines arrive in order, none twice"
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
        assert follower.wait(timeout=30) == 0, follower.stderr.read() if follower.stderr else ""
    finally:
        if follower.poll() is None:
            follower.kill()


def test_the_api_servers_refusals(emulator: EmulatorHandle, core: client.CoreV1Api, namespace: str) -> None:
    two = _pod(core, namespace, [{"name": "a", "image": "x/a:1"}, {"name": "b", "image": "x/b:1"}])
    _running(core, namespace, two)
    with pytest.raises(client.ApiException) as refused:
        core.read_namespaced_pod_log(two, namespace)
    assert refused.value.status == 400
    assert f"a container name must be specified for pod {two}, choose one of: [a b]" in str(refused.value.body)
    assert "image=x/b:1" in _kubectl(emulator, "logs", "-n", namespace, two, "-c", "b")
    with pytest.raises(client.ApiException) as unknown:
        core.read_namespaced_pod_log(two, namespace, container="c")
    assert unknown.value.status == 400 and "container c is not valid" in str(unknown.value.body)
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_pod_log("nope", namespace)
    assert missing.value.status == 404
    # An image that cannot be pulled: the container never starts.
    image = f"x/broken-{uuid.uuid4().hex[:6]}:1"
    emulator.control.image_pull_fail("main", image)
    try:
        stuck = _pod(core, namespace, [{"name": "c", "image": image}])
        wait_for(lambda: core.read_namespaced_pod(stuck, namespace).status.container_statuses, what="pull failure")
        with pytest.raises(client.ApiException) as waiting:
            core.read_namespaced_pod_log(stuck, namespace)
        assert waiting.value.status == 400
        assert json.loads(waiting.value.body)["message"].startswith(
            f'container "c" in pod "{stuck}" is waiting to start: ')
    finally:
        emulator.control.image_pull_fail("main", image, enabled=False)
