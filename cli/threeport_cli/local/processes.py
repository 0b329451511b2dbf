"""Starting, probing and stopping the detached processes of the local control plane."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Where the kernel hands out ports for bind(0) and outgoing connections (Linux's default range).
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_LOW = 32768
LOWEST_PORT = 10000
ATTEMPTS = 200


def _ephemeral_low() -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    return DEFAULT_EPHEMERAL_LOW


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Ports are chosen before the services that use them start (every service learns them all),
    so they are taken below the kernel's ephemeral range: a port the kernel hands to another
    program's bind(0) or outgoing connection in the meantime would make a service fail to bind.
    """
    low = _ephemeral_low()
    if low - LOWEST_PORT >= 1000:
        for _ in range(ATTEMPTS):
            port = random.randint(LOWEST_PORT, low - 1)
            if _bindable(port):
                return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(log: Path, since: int = 0, lines: int = 12) -> str:
    """The last ``lines`` lines ``log`` gained after byte ``since``, indented under a heading, for
    an error that would otherwise only say where to look ("" when there are none)."""
    try:
        with log.open("rb") as stream:
            stream.seek(since)
            written = stream.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    shown = [line for line in written if line.strip()][-lines:]
    if not shown:
        return ""
    return "\n  last lines of the log:\n" + "\n".join(f"    {line}" for line in shown)


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def start_detached(command: Sequence[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Starts a process in its own session so it outlives ``tptctl``; output goes to ``log``."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    return process.pid


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Polls ``check()`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def stop(pid: int, timeout: float = 15.0, signum: int = signal.SIGTERM) -> bool:
    """``signum``, then SIGKILL after ``timeout``; True when the process is gone."""
    if not is_alive(pid):
        return True
    _signal(pid, signum)
    if wait_until(lambda: not is_alive(pid), timeout):
        return True
    _signal(pid, signal.SIGKILL)
    return wait_until(lambda: not is_alive(pid), 5.0)


def _signal(pid: int, signum: int) -> None:
    """Signals the process's whole group when it leads one, so its children stop too."""
    with contextlib.suppress(ProcessLookupError):
        if _leads_group(pid):
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False
