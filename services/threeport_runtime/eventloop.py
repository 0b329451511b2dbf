"""The event loop of a service process: uvloop.

Every service spends its time in the event loop (gRPC calls, PostgreSQL and Redis sockets,
timers), and uvloop runs that loop in C. Only process entry points use it (``cli.main`` and the
gateway's ``__main__``); libraries never choose a loop, so code embedding them - tests starting
services in-process, benchmarks, ``tptctl`` - keeps its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a uvloop event loop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
