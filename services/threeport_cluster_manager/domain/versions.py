"""Which Kubernetes versions the platform supports."""

from __future__ import annotations

import re

OLDEST_SUPPORTED = (1, 27)
_VERSION = re.compile(r"^v?(\d+)\.(\d+)")


def version_problem(version: str) -> str | None:
    """None for a supported ``major.minor`` version, else what is wrong with it."""
    match = _VERSION.match(version)
    if match is None:
        return f"the API server reports an unrecognised Kubernetes version {version!r}"
    found = (int(match.group(1)), int(match.group(2)))
    if found < OLDEST_SUPPORTED:
        oldest = ".".join(map(str, OLDEST_SUPPORTED))
        return f"Kubernetes {found[0]}.{found[1]} is older than the oldest supported version, {oldest}; upgrade it"
    return None
