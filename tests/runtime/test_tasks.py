"""Stopping background tasks: a stop that is itself interrupted still stops every child."""

from __future__ import annotations

import asyncio

from threeport_runtime.tasks import cancel_and_wait, run_together


async def test_a_parent_cancelled_again_while_stopping_still_stops_its_children() -> None:
    """A child that swallows one cancel (as redis-py's client sometimes does) under a parent
    that is cancelled repeatedly (``cancel_and_wait`` on the parent) must not outlive it."""
    swallowed = asyncio.Event()

    async def swallows_one_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.set()
        await asyncio.sleep(3600)

    child = asyncio.create_task(swallows_one_cancel())
    parent = asyncio.create_task(run_together(child))
    await asyncio.sleep(0)
    await cancel_and_wait(parent, poll=0.01)  # re-cancels the parent faster than it polls its child
    assert swallowed.is_set()
    assert child.done(), "the child outlived its stopped parent"
    assert parent.cancelled()
