"""Stopping background tasks reliably.

Some client libraries occasionally swallow a CancelledError that races with I/O completion
(redis-py's asyncio client does), which would leave a single ``task.cancel()`` unanswered and a
graceful stop hanging forever. Cancelling again until the task is done is robust to that.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Task[Any], poll: float = 0.1) -> None:
    """Cancels the tasks until every one is done. If the caller is itself cancelled meanwhile
    (a stopping parent cancelled again, e.g. by its own ``cancel_and_wait``), the tasks are still
    stopped first and the cancellation is raised after: otherwise a task that swallowed one
    cancel would outlive its parent, and a later loop shutdown would wait on it forever."""
    pending = {task for task in tasks if not task.done()}
    interrupted = False
    while pending:
        for task in pending:
            task.cancel()
        try:
            _, pending = await asyncio.wait(pending, timeout=poll)
        except asyncio.CancelledError:
            interrupted = True
            pending = {task for task in pending if not task.done()}
    for task in tasks:
        # Retrieve outcomes so asyncio does not warn about exceptions never retrieved.
        if not task.cancelled():
            task.exception()
    if interrupted:
        raise asyncio.CancelledError


async def run_together(*tasks: asyncio.Task[Any]) -> None:
    """Waits for the tasks; if one fails, stops the others and raises its error."""
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        await cancel_and_wait(*tasks)
