"""The emulator as a process: started by the testing helper as a subprocess, driven by its CLI,
stopped with SIGTERM, and restored from the snapshot it wrote on the way out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from tests.kubesim.helpers import make_api_client, wait_for
from threeport_kubesim.control import ControlClient
from threeport_kubesim.testing import run_emulator


def _cli(control_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threeport_kubesim", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, KUBESIM_CONTROL=control_url),
    )


def test_subprocess_emulator_driven_by_cli(tmp_path: Path) -> None:
    with run_emulator(["alpha"], subprocess_mode=True, kubeconfig_dir=tmp_path) as handle:
        assert handle.pid is not None and handle.control.healthy()
        created = _cli(handle.control_url, "clusters", "create", "beta", "--nodes", "2")
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["name"] == "beta"
        listed = json.loads(_cli(handle.control_url, "clusters", "list").stdout)
        assert sorted(c["name"] for c in listed) == ["alpha", "beta"]

        failing = _cli(
            handle.control_url,
            "fault",
            "fail-requests",
            "--cluster",
            "alpha",
            "--status",
            "500",
            "--count",
            "1",
            "--resource",
            "namespaces",
        )
        assert failing.returncode == 0, failing.stderr
        handle.clusters = {c.name: c for c in handle.control.list_clusters()}
        core = client.CoreV1Api(make_api_client(handle, "alpha"))
        try:
            core.list_namespace()
        except client.ApiException as exc:
            assert exc.status == 500
        else:
            raise AssertionError("the injected failure did not fire")
        assert core.list_namespace().items

        assert (
            _cli(handle.control_url, "fault", "image-pull-fail", "--cluster", "alpha", "--image", "x:*").returncode == 0
        )
        shown = json.loads(_cli(handle.control_url, "fault", "show", "--cluster", "alpha").stdout)
        assert shown["failing_images"] == ["x:*"]
        unreachable = _cli(handle.control_url, "fault", "unreachable", "--cluster", "beta")
        assert json.loads(unreachable.stdout)["unreachable"] is True
        assert _cli(handle.control_url, "fault", "unreachable", "--cluster", "beta", "--off").returncode == 0
        deleted = _cli(handle.control_url, "clusters", "delete", "beta")
        assert deleted.returncode == 0 and json.loads(deleted.stdout) == {"deleted": "beta"}
        missing = _cli(handle.control_url, "clusters", "delete", "beta")
        assert missing.returncode == 1 and "404" in missing.stderr


def test_sigterm_saves_a_snapshot_that_the_next_start_restores(tmp_path: Path) -> None:
    snapshot = tmp_path / "state.json"
    command = [
        sys.executable,
        "-m",
        "threeport_kubesim",
        "serve",
        "--port",
        "0",
        "--cluster",
        "keep",
        "--kubeconfig-dir",
        str(tmp_path),
        "--snapshot",
        str(snapshot),
        "--speed",
        "50",
    ]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None
    started = json.loads(first.stdout.readline())
    info = started["clusters"][0]
    kubeconfig = info["kubeconfig_path"]
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    core = client.CoreV1Api(client.ApiClient(configuration))
    core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="survivor"), data={"k": "v"})
    )
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    assert snapshot.exists()

    second = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert second.stdout is not None
        restarted = json.loads(second.stdout.readline())
        again = restarted["clusters"][0]
        assert (again["server"], again["token"]) == (info["server"], info["token"])
        restored = wait_for(lambda: core.read_namespaced_config_map("survivor", "default"), what="restored object")
        assert restored.data == {"k": "v"}
        assert ControlClient(restarted["control_url"]).healthy()
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0


def _serve(command: list[str]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"the emulator exited with {process.wait()}"
    return process, json.loads(line)


def _core(kubeconfig: str) -> client.CoreV1Api:
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return client.CoreV1Api(client.ApiClient(configuration))


def test_state_dir_keeps_clusters_across_kill_9(tmp_path: Path) -> None:
    """Issue 17 item 9: after kill -9 the emulator serves the same clusters and objects,
    resourceVersions move forward and a watch resumes from the version its client last saw."""
    command = [sys.executable, "-m", "threeport_kubesim", "serve", "--port", "0", "--cluster", "keep"]
    command += ["--kubeconfig-dir", str(tmp_path / "kubeconfigs"), "--state-dir", str(tmp_path / "state")]
    first, started = _serve(command)
    try:
        info = started["clusters"][0]
        control = ControlClient(started["control_url"])
        extra = control.create_cluster("extra")
        control.create_cluster("gone")
        control.delete_cluster("gone")
        core = _core(info["kubeconfig_path"])
        core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="before")))
        seen = core.list_namespaced_config_map("default").metadata.resource_version
        core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="after"), data={"k": "v"})
        )
        core.delete_namespaced_config_map("before", "default")
        last = int(core.read_namespace("default").metadata.resource_version)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)

    second, restarted = _serve(command)
    try:
        assert {c["name"] for c in restarted["clusters"]} == {"keep", "extra"}
        again = next(c for c in restarted["clusters"] if c["name"] == "keep")
        assert (again["server"], again["token"], again["ca_data"]) == (info["server"], info["token"], info["ca_data"])
        kept_extra = ControlClient(restarted["control_url"]).get_cluster("extra")
        assert (kept_extra.server, kept_extra.token) == (extra.server, extra.token)

        core = _core(info["kubeconfig_path"])
        names = [c.metadata.name for c in core.list_namespaced_config_map("default").items]
        assert "after" in names and "before" not in names
        assert core.read_namespaced_config_map("after", "default").data == {"k": "v"}
        # The watch a client had open resumes from the last version it saw: nothing lost or repeated.
        events = [
            (event["type"], event["object"].metadata.name)
            for event in watch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=seen, timeout_seconds=1
            )
        ]
        assert events == [("ADDED", "after"), ("DELETED", "before")]
        created = core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="new"))
        )
        assert int(created.metadata.resource_version) > last
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
