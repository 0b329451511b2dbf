"""A controller replica in its own process whose reconcile of one key never finishes.

Run as ``python -m tests.runtime.toy_service.replica REDIS_URL STREAM_PREFIX KEY``; it prints
``reconciling <key>`` once it holds the lease and is inside the reconcile, so the test can
kill it there with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

from threeport_runtime.bus.streams import connect_redis, resource_stream
from threeport_runtime.reconcile.controller import Controller, ControllerOptions, Watch
from threeport_runtime.reconcile.result import Result

CONTROLLER = "replica-test"
OPTIONS = ControllerOptions(workers=2, resync_interval=0.5, lease_ttl=1.0)


async def run(redis_url: str, prefix: str, key: str) -> None:
    async def reconcile(name: str) -> Result | None:
        print(f"reconciling {name}", flush=True)
        await asyncio.Event().wait()
        return None

    async def keys() -> AsyncIterator[str]:
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


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2], sys.argv[3]))
