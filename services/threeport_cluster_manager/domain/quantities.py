"""Kubernetes resource quantities (``250m``, ``4``, ``16384Mi``, ``1.5Gi``) as integers.

CPU becomes millicores and memory bytes, the units ClusterStatus and ClusterRequirements use.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def parse_quantity(text: str) -> Decimal:
    """The quantity's value in base units; raises ValueError for malformed text."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
    return number * _SUFFIXES[match.group(2) or ""]


def cpu_millis(text: str | None) -> int:
    """CPU in millicores; 0 for missing or malformed values (they must not break a probe)."""
    try:
        return int(parse_quantity(text) * 1000) if text else 0
    except ValueError:
        return 0


def memory_bytes(text: str | None) -> int:
    """Memory in bytes; 0 for missing or malformed values."""
    try:
        return int(parse_quantity(text)) if text else 0
    except ValueError:
        return 0
