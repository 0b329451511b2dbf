"""The fencing token of the lease under which the current task reconciles.

The controller sets it around each reconcile; the repository refuses status writes carrying a
token older than one already written, so a replica that lost its lease (paused, partitioned)
cannot overwrite the work of the replica that now holds it.
"""

from __future__ import annotations

import contextvars

current_fence: contextvars.ContextVar[int | None] = contextvars.ContextVar("threeport_fence", default=None)
