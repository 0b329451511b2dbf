"""``--wait``: waits for resources to become ready, showing progress on a terminal only."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from threeport.sdk import Client


@contextmanager
def progress(message: str) -> Iterator[None]:
    """Shows `message` with elapsed seconds while the block runs, if stderr is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(0.5):
            print(f"\r{message} ({time.monotonic() - started:.0f}s)", end="", file=sys.stderr, flush=True)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def wait_ready(client: Client, names: list[str], timeout: float) -> None:
    """Waits for each resource in turn, all within one overall timeout."""
    deadline = time.monotonic() + timeout
    for name in names:
        with progress(f"waiting for {name} to be ready"):
            client.wait_ready(name, timeout=max(deadline - time.monotonic(), 0.1))
        print(f"{name} ready", file=sys.stderr)
