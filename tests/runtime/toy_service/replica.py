"""A controller replica in its own process whose reconciles never finish.

Run as ``python -m tests.runtime.toy_service.replica REDIS_URL STREAM_PREFIX KEY [KEY...]``; it
prints ``reconciling <key>`` once it holds a key's lease and is inside the reconcile, so the test
can kill it there with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

from tests.support import REPO_ROOT
from threeport_runtime.bus.streams import connect_redis, resource_stream
from threeport_runtime.reconcile.controller import Controller, ControllerOptions, Watch
from threeport_runtime.reconcile.result import Result
from threeport_runtime.testing import REDIS_URL

CONTROLLER = "replica-test"
# Short lease and membership expiry because the tests that use this replica are about a replica
# dying: the survivor takes its keys over once both ran out (production: 15 s each).
OPTIONS = ControllerOptions(workers=2, resync_interval=0.5, lease_ttl=1.0, membership_heartbeat=1.0, membership_ttl=3.0)


async def run(redis_url: str, prefix: str, names: list[str]) -> None:
    async def reconcile(name: str) -> Result | None:
        print(f"reconciling {name}", flush=True)
        await asyncio.Event().wait()
        return None

    async def keys() -> AsyncIterator[str]:
        for key in names:
            yield key

    controller = Controller(
        CONTROLLER,
        reconcile,
        redis=connect_redis(redis_url),
        stream_prefix=prefix,
        watches=[Watch(resource_stream(prefix, "test.Thing"))],
        list_keys=keys,
        options=OPTIONS,
    )
    await controller.run()


@contextlib.asynccontextmanager
async def running_replica(prefix: str, *keys: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """This replica in its own process (stdout piped) over ``keys``; killed on the way out."""
    # The checkout's root in front of the path the tests run with (not instead of it), so the
    # replica runs this checkout's runtime, not whichever the environment installed.
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.runtime.toy_service.replica",
        REDIS_URL,
        prefix,
        *keys,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2], sys.argv[3:]))
