"""Parses ``--timeout`` values such as ``90s``, ``5m``, ``1h30m`` or ``30d``."""

from __future__ import annotations

import re

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raises ValueError saying what is accepted."""
    compact = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", compact):
        return float(compact)
    parts = PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration; use e.g. 90s, 5m, 1h30m or 30d")
    return sum(float(number) * UNITS[unit] for number, unit in parts)
