"""The exit codes tptctl promises to scripts (DESIGN §10.2). Never renumber them."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What a tptctl process's exit status means."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    INVALID_INPUT = 5
    UNAUTHORIZED = 6
    TIMED_OUT = 7
