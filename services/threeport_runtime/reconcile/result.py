"""What a reconciler returns or raises, and how the controller treats each outcome."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """Success. ``requeue_after`` (seconds) asks to look again later, e.g. to poll progress."""

    requeue_after: float | None = None


class TemporaryError(Exception):
    """Worth retrying: the key is requeued with per-key exponential backoff and jitter."""


class PermanentError(Exception):
    """Retrying cannot help until the user changes something.

    The controller records it as ``Ready=False`` and ``Stalled=True`` with ``reason`` for the
    current generation (state FAILED) and stops retrying; a spec change (new generation)
    or the periodic resync brings the key back.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message
