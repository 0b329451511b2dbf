"""``tptctl get KIND -w`` as a user runs it: the installed command, production timeouts, idle for
longer than redis-py's 5 s socket timeout and the server's 5 s block, and still following
changes after the gateway and then a service restarted - none lost, none printed twice."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import ControlPlane, run_tptctl

APP = """\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {{name: {name}, labels: {{suite: watch}}}}
spec:
  components:
    web: {{image: "registry.example.com/{name}:{version}", ports: [{{name: http, port: 8080}}]}}
"""
# Longer than redis-py's default socket timeout (5 s) and the server's block time (5 s) together.
IDLE_SECONDS = 12


class Watcher:
    """A running ``tptctl get apps -w -o yaml`` whose output is collected line by line."""

    def __init__(self, config_file: Path) -> None:
        env = {**os.environ, "THREEPORT_CONFIG": str(config_file)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "threeport_cli", "get", "apps", "-l", "suite=watch", "-w", "-o", "yaml"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60, *, anywhere: bool = False) -> None:
        """Reads output until a line containing ``text`` arrives (fails if the watch exits);
        ``anywhere`` also accepts a line that was read already."""
        if anywhere and any(text in line for line in self.output):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    pytest.fail(f"the watch exited ({self.process.returncode}): {self.stderr()}")
                continue
            self.output.append(line)
            if text in line:
                return
        pytest.fail(f"no line with {text!r} within {timeout}s; output so far:\n{''.join(self.output)}")

    def documents(self) -> list[dict[str, Any]]:
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return [d for d in yaml.safe_load_all("".join(self.output)) if d]

    def stderr(self) -> str:
        self.process.kill()
        _, err = self.process.communicate(timeout=10)
        return err

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=10)


@pytest.fixture
def watcher(control_plane: ControlPlane) -> Iterator[Watcher]:
    started = Watcher(control_plane.config_file)
    try:
        yield started
    finally:
        started.stop()


def apply(cp: ControlPlane, tmp_path: Path, name: str, version: str) -> None:
    path = tmp_path / f"{name}-{version}.yaml"
    path.write_text(APP.format(name=name, version=version))
    result = cp.tptctl("apply", "-f", str(path))
    assert result.code == 0, result.err


def pid_of(cp: ControlPlane, process: str) -> int:
    record = json.loads((cp.state_dir / "processes.json").read_text())
    return int(next(p["pid"] for p in record["processes"] if p["name"] == process))


def restart(cp: ControlPlane, process: str) -> None:
    os.kill(pid_of(cp, process), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while run_tptctl(cp.config_file, "status", "--state-dir", str(cp.state_dir)).returncode == 0:
        assert time.monotonic() < deadline, f"{process} did not stop"
        time.sleep(0.2)
    started = run_tptctl(cp.config_file, "up", "--state-dir", str(cp.state_dir))
    assert started.returncode == 0, started.stderr


@pytest.mark.timeout(400)
def test_an_idle_watch_stays_open_and_resumes_after_restarts(
    control_plane: ControlPlane, watcher: Watcher, tmp_path: Path
) -> None:
    cp = control_plane
    apply(cp, tmp_path, "watch-one", "1")
    watcher.wait_for("watch-one")

    time.sleep(IDLE_SECONDS)  # Nothing happens: the watch must simply stay open.
    assert watcher.process.poll() is None, watcher.stderr()
    apply(cp, tmp_path, "watch-two", "1")
    watcher.wait_for("registry.example.com/watch-two:1")

    for process, name in (("api-gateway", "watch-three"), ("registry", "watch-four")):
        # The watcher sleeps through the restart and the changes, so it must resume to see them.
        watcher.process.send_signal(signal.SIGSTOP)
        try:
            restart(cp, process)
            apply(cp, tmp_path, name, "1")
            apply(cp, tmp_path, "watch-one", f"after-{process}")
        finally:
            watcher.process.send_signal(signal.SIGCONT)
        watcher.wait_for(f"registry.example.com/{name}:1")
        watcher.wait_for(f"registry.example.com/watch-one:after-{process}")

    # Nothing lost: the watch ends up printing each object's stored version (controllers may
    # still be writing status, so follow the output until it does).
    for name in ("watch-one", "watch-two", "watch-three", "watch-four"):
        stored = json.loads(cp.tptctl("get", "app", name, "-o", "json").out)
        watcher.wait_for(stored["etag"], anywhere=True)
    seen = [(d["name"], d.get("etag", "")) for d in watcher.documents()]
    assert len(seen) == len(set(seen)), f"a change was printed twice: {seen}"

    assert cp.tptctl("delete", "app", "watch-two").code == 0
    watcher.wait_for("name: projects/acme/applications/watch-two")  # its DELETED document
    assert watcher.process.poll() is None
    for name in ("watch-one", "watch-three", "watch-four"):
        assert cp.tptctl("delete", "app", name).code == 0



def error_lines(cp: ControlPlane, offsets: dict[str, int]) -> list[str]:
    found = []
    for process, offset in offsets.items():
        with (cp.state_dir / "logs" / f"{process}.log").open() as log:
            log.seek(offset)
            found += [f"{process}: {line}" for line in log if '"level": "ERROR"' in line or "Traceback" in line]
    return found


def test_a_client_closing_its_watch_is_not_an_error(control_plane: ControlPlane) -> None:
    cp = control_plane
    processes = ("workload-delivery", "registry", "api-gateway")
    offsets = {p: (cp.state_dir / "logs" / f"{p}.log").stat().st_size for p in processes}
    with cp.client() as client:
        # As `--wait` does: leave the watch as soon as the wanted response arrives, while the
        # server is still sending (the initial list, then the end-of-list HEARTBEAT).
        for _ in range(10):
            for _response in client.application.watch_applications(parent="projects/acme"):
                break
            for _response in client.deployment.watch_deployments(parent="projects/acme"):
                break
    deadline = time.monotonic() + 5  # errors, if any, are logged as soon as the servers see it
    while time.monotonic() < deadline and not error_lines(cp, offsets):
        time.sleep(0.2)
    assert error_lines(cp, offsets) == []
