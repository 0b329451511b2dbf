"""Test helper: start an emulator (in a background thread or as a subprocess) on free ports and get
a handle with the control client and each cluster's kubeconfig. Other suites wrap it, e.g.:

    @pytest.fixture(scope="session")
    def kube():
        with run_emulator(["dev"], speed=50) as handle:
            yield handle
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from threeport_kubesim.control import ClusterInfo, ControlClient
from threeport_kubesim.emulator import ClusterDefaults, Emulator


@dataclass
class EmulatorHandle:
    control_url: str
    control: ControlClient
    kubeconfig_dir: Path
    clusters: dict[str, ClusterInfo] = field(default_factory=dict)
    # Only for in-process emulators: the live object, for white-box assertions in the emulator's own tests.
    emulator: Emulator | None = None
    loop: asyncio.AbstractEventLoop | None = None
    pid: int | None = None

    def kubeconfig(self, cluster: str) -> str:
        return self.clusters[cluster].kubeconfig_path

    def add_cluster(self, name: str, tls: bool | None = None, nodes: int | None = None) -> ClusterInfo:
        info = self.control.create_cluster(name, tls=tls, nodes=nodes)
        self.clusters[name] = info
        return info

    def remove_cluster(self, name: str) -> None:
        self.control.delete_cluster(name)
        self.clusters.pop(name, None)


@contextlib.contextmanager
def run_emulator(
    clusters: Sequence[str] = ("sim",),
    *,
    tls: bool = True,
    speed: float = 50.0,
    nodes: int = 1,
    kubeconfig_dir: Path | None = None,
    subprocess_mode: bool = False,
    bookmark_interval: float = 60.0,
    history_size: int = 2000,
) -> Iterator[EmulatorHandle]:
    """Start an emulator hosting `clusters`; stop it (and remove temporary files) on exit."""
    with contextlib.ExitStack() as stack:
        if kubeconfig_dir is None:
            kubeconfig_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kubesim-")))
        defaults = ClusterDefaults(
            tls=tls, nodes=nodes, speed=speed, bookmark_interval=bookmark_interval, history_size=history_size
        )
        if subprocess_mode:
            handle = stack.enter_context(_subprocess(clusters, defaults, kubeconfig_dir))
        else:
            handle = stack.enter_context(_thread(clusters, defaults, kubeconfig_dir))
        yield handle


@contextlib.contextmanager
def _thread(clusters: Sequence[str], defaults: ClusterDefaults, kubeconfig_dir: Path) -> Iterator[EmulatorHandle]:
    ready = threading.Event()
    failure: list[BaseException] = []
    state: dict[str, object] = {}

    async def main() -> None:
        emulator = Emulator(kubeconfig_dir, defaults)
        stop = asyncio.Event()
        try:
            for name in clusters:
                await emulator.create_cluster(name)
            port = await emulator.start_control(0)
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            await emulator.shutdown()
            return
        state.update(emulator=emulator, port=port, stop=stop, loop=asyncio.get_running_loop())
        ready.set()
        await stop.wait()
        await emulator.shutdown()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="kubesim", daemon=True)
    thread.start()
    ready.wait(timeout=60)
    if failure:
        raise RuntimeError("emulator failed to start") from failure[0]
    if "port" not in state:
        raise RuntimeError("emulator did not start within 60s")
    loop = state["loop"]
    stop = state["stop"]
    emulator = state["emulator"]
    assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
    assert isinstance(emulator, Emulator)
    control_url = f"http://127.0.0.1:{state['port']}"
    control = ControlClient(control_url)
    handle = EmulatorHandle(control_url, control, kubeconfig_dir, emulator=emulator, loop=loop)
    handle.clusters = {info.name: info for info in control.list_clusters()}
    try:
        yield handle
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


@contextlib.contextmanager
def _subprocess(clusters: Sequence[str], defaults: ClusterDefaults, kubeconfig_dir: Path) -> Iterator[EmulatorHandle]:
    command = [
        sys.executable,
        "-m",
        "threeport_kubesim",
        "serve",
        "--port",
        "0",
        "--kubeconfig-dir",
        str(kubeconfig_dir),
        "--speed",
        str(defaults.speed),
        "--nodes",
        str(defaults.nodes),
        "--bookmark-interval",
        str(defaults.bookmark_interval),
        "--history-size",
        str(defaults.history_size),
    ]
    command.append("--tls" if defaults.tls else "--no-tls")
    for name in clusters:
        command += ["--cluster", name]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"emulator exited with {process.wait()} before becoming ready")
        started = json.loads(line)
        control = ControlClient(started["control_url"])
        handle = EmulatorHandle(
            started["control_url"],
            control,
            kubeconfig_dir,
            clusters={c["name"]: ClusterInfo.from_json(c) for c in started["clusters"]},
            pid=process.pid,
        )
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
