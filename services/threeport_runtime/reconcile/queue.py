"""The controller's work queue: deduplicated keys, one worker per key, priorities, backoff and delays.

Semantics (as client-go's workqueue): a key is queued at most once; a key added while a worker
processes it is queued again when that worker finishes, so no change is missed and no key runs
twice at once in this process. ``add_after`` delays a key; ``add_rate_limited`` delays it by a
per-key exponential backoff with jitter that ``forget`` resets.

Priorities (as controller-runtime's priority queue): a key is added at ``NORMAL`` priority
unless the caller says otherwise; the controller adds the keys of a periodic or initial resync
(a listing of every key, not a sign that one changed) at ``LOW``. A worker takes the highest
priority first, and keys of one priority in the order they were added, so a change event is not
stuck behind thousands of resync keys. A key keeps the highest priority it was added with while
it waits: an event for a key already queued by a resync moves it up, to the back of the
``NORMAL`` keys; a resync of a key already queued normally changes nothing. A key added while it
is processed is queued again on ``done`` with the highest priority it was added with meanwhile.
``LOW`` keys wait only while ``NORMAL`` keys are ready: a burst of events delays the resync, and
the resync itself is what makes a lost event cost latency, so it still runs between bursts.
Between the two, ``NEW``: the first pass of a resource just created. A burst of 2,000 creations
queued FIFO made each one's later steps (its claim bound, its rollout seen) wait behind every
other one's first pass, so all became Ready together near the end; a created key waits while
keys of resources already under way are ready, but not for ever: while both wait, one pick in
``NEW_SHARE`` goes to the oldest created key. Without that share, a few resources re-checked
every couple of seconds with slow passes (addons waiting for an addon they depend on, which is
created for them) kept ``NORMAL`` keys ready all the time and the created key they waited for
never ran.

A key has at most one pending timer, the earliest asked for (client-go's rule): a later
``add_after`` for a key already waiting is dropped and an earlier one replaces it. Otherwise
every requeue would add a timer, and a steady resync would reconcile each key more often the
longer the process runs. A timer queues its key at ``NORMAL`` priority (a requeue or a retry is
work a reconcile asked for).

``keep`` (optional) is asked when a timer fires: a key it refuses is dropped, with its backoff.
The controller refuses the keys another replica owns now: that replica queued them when it
came to own them, so the timer would only reconcile them twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
from collections.abc import Callable

NORMAL = 0
"""Events, requeues, retries, keys sent by another replica."""
NEW = -50
"""A resource just created (its own CREATED event): its first pass waits behind the work of
resources already under way, so a burst of creations converges oldest first rather than
breadth-first (every resource's next step behind every other one's first)."""
LOW = -100
"""A resync: every key listed, changed or not (controller-runtime's ``LowPriority``)."""
NEW_SHARE = 4
"""While keys above ``NEW`` and ``NEW`` keys are both ready, every ``NEW_SHARE``-th pick takes a
``NEW`` key: work under way keeps most of the workers, and a created resource cannot starve."""


class WorkQueue:
    def __init__(
        self, *, base_delay: float = 0.05, max_delay: float = 60.0, keep: Callable[[str], bool] | None = None
    ):
        self._keep = keep
        # Ready keys by priority, each a heap of (sequence, key): the oldest first. Moving a key
        # up pushes a new entry; an entry whose sequence is not its key's in `_queued` is stale
        # and skipped.
        self._ready: dict[int, list[tuple[int, str]]] = {}
        # Picks of keys above NEW in a row while NEW keys waited.
        self._new_passed_over = 0
        # Each ready key's (priority, sequence).
        self._queued: dict[str, tuple[int, int]] = {}
        self._processing: set[str] = set()
        # Keys added while processed, with the highest priority they were added with.
        self._dirty: dict[str, int] = {}
        self._delayed: list[tuple[float, int, str]] = []
        # The due time of each key's one live timer; heap entries that disagree are stale.
        self._due: dict[str, float] = {}
        self._sequence = itertools.count()
        self._failures: dict[str, int] = {}
        self._wakeup = asyncio.Event()
        self._base_delay = base_delay
        self._max_delay = max_delay

    def __len__(self) -> int:
        """Keys waiting to run now (the queue depth metric)."""
        return len(self._queued)

    def add(self, key: str, priority: int = NORMAL) -> None:
        if key in self._processing:
            self._dirty[key] = max(priority, self._dirty.get(key, priority))
            return
        queued = self._queued.get(key)
        if queued is not None and queued[0] >= priority:
            return
        # New, or moved up: behind the keys already waiting at its new priority.
        sequence = next(self._sequence)
        self._queued[key] = (priority, sequence)
        heapq.heappush(self._ready.setdefault(priority, []), (sequence, key))
        self._wakeup.set()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        due = asyncio.get_running_loop().time() + delay
        pending = self._due.get(key)
        if pending is not None and pending <= due:
            return
        self._due[key] = due
        heapq.heappush(self._delayed, (due, next(self._sequence), key))
        self._wakeup.set()

    def __contains__(self, key: object) -> bool:
        """Whether the key is waiting to run, running, or waiting for a timer."""
        return key in self._queued or key in self._processing or key in self._due

    def pending_timers(self) -> int:
        """Keys waiting for a timer (each key counts once)."""
        return len(self._due)

    def add_rate_limited(self, key: str) -> float:
        """Requeues after this key's next backoff delay; returns the delay chosen."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = min(self._base_delay * (2**failures), self._max_delay)
        # Full jitter keeps many failing keys from retrying in lock-step.
        delay = random.uniform(delay / 2, delay)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> str:
        """Waits for the next key and marks it as being processed."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self._delayed and self._delayed[0][0] <= now:
                due, _, key = heapq.heappop(self._delayed)
                if self._due.get(key) == due:
                    del self._due[key]
                    if self._keep is None or self._keep(key):
                        self.add(key)
                    else:
                        self._failures.pop(key, None)
            taken = self._next_ready()
            if taken is not None:
                del self._queued[taken]
                self._processing.add(taken)
                return taken
            self._wakeup.clear()
            timeout = self._delayed[0][0] - now if self._delayed else None
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # races with the wake-up, leaving the worker impossible to stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()

    def _next_ready(self) -> str | None:
        """Takes the key to run next off its heap: the oldest of the highest priority, or the
        oldest ``NEW`` key when its share is due."""
        waiting = sorted((p for p in list(self._ready) if self._has_ready(p)), reverse=True)
        if not waiting:
            return None
        priority = waiting[0]
        if priority > NEW and NEW in waiting:
            self._new_passed_over += 1
            if self._new_passed_over >= NEW_SHARE:
                priority = NEW
        if priority <= NEW:
            self._new_passed_over = 0
        return heapq.heappop(self._ready[priority])[1]

    def _has_ready(self, priority: int) -> bool:
        """Whether a live key waits at ``priority`` (stale entries at the head are dropped)."""
        heap = self._ready[priority]
        while heap:
            sequence, key = heap[0]
            if self._queued.get(key) == (priority, sequence):
                return True
            heapq.heappop(heap)  # stale: the key moved up (or ran) since this entry was pushed
        del self._ready[priority]
        return False

    def done(self, key: str) -> None:
        """Marks a key finished; re-queues it if it changed meanwhile."""
        self._processing.discard(key)
        priority = self._dirty.pop(key, None)
        if priority is not None:
            self.add(key, priority)
