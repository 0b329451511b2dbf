"""Kubernetes resource quantities (``100m``, ``0.5``, ``256Mi``, ``1e3``, ``1k``), parsed exactly.

The grammar is Kubernetes' own::

    quantity  ::= [+-] number suffix
    number    ::= digits | digits "." digits | digits "." | "." digits
    suffix    ::= binarySI | decimalSI | ("e" | "E") [+-] digits
    binarySI  ::= Ki | Mi | Gi | Ti | Pi | Ei
    decimalSI ::= m | "" | k | M | G | T | P | E

``1E`` is an exa-suffix while ``1E3`` is an exponent, as in Kubernetes. Values are kept as
``Fraction`` so that comparisons (limit >= request) are exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|[eE](?P<exponent>[+-]?[0-9]+)|(?P<decimal>[mkMGTPE]?))"
)
# Exponents beyond this are nonsense for compute resources and would make Fractions huge.
_MAX_EXPONENT = 30

QUANTITY_RULE = "a Kubernetes quantity such as 100m, 0.5, 2, 256Mi, 1Gi or 1e3"


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity."""


@dataclass(frozen=True)
class Quantity:
    """A parsed quantity: the text as written and its exact value."""

    text: str
    value: Fraction

    @property
    def is_whole(self) -> bool:
        return self.value.denominator == 1


def parse_quantity(text: str) -> Quantity:
    """Parses a quantity; raises QuantityError saying what is allowed."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise QuantityError(f"{text!r} is not {QUANTITY_RULE}")
    value = Fraction(match["number"])
    if match["binary"]:
        value *= _BINARY[match["binary"]]
    elif match["exponent"] is not None:
        exponent = int(match["exponent"])
        if abs(exponent) > _MAX_EXPONENT:
            raise QuantityError(f"{text!r} has an exponent out of range (at most e{_MAX_EXPONENT})")
        value *= Fraction(10) ** exponent
    else:
        value *= _DECIMAL[match["decimal"] or ""]
    if match["sign"] == "-":
        value = -value
    return Quantity(text, value)


def check_cpu(text: str) -> str | None:
    """A positive CPU amount of at least one millicore."""
    try:
        quantity = parse_quantity(text)
    except QuantityError as error:
        return f"{error} (CPU cores, e.g. 250m or 2)"
    if quantity.value <= 0:
        return f"{text!r} must be more than 0 (CPU cores, e.g. 250m or 2)"
    if quantity.value < Fraction(1, 1000):
        return f"{text!r} is less than 1m, the smallest CPU amount Kubernetes can express"
    return None


def check_bytes(text: str, what: str) -> str | None:
    """A positive, whole number of bytes (memory or a volume size)."""
    try:
        quantity = parse_quantity(text)
    except QuantityError as error:
        return f"{error} ({what} in bytes, e.g. 256Mi or 1Gi)"
    if quantity.value <= 0:
        return f"{text!r} must be more than 0 ({what} in bytes, e.g. 256Mi or 1Gi)"
    if not quantity.is_whole:
        # "256m" is a classic slip: millibytes, not megabytes.
        hint = f"; did you mean {text[:-1]}Mi?" if text.endswith("m") else ""
        return f"{text!r} is not a whole number of bytes{hint}"
    return None


def cpu_millis(text: str | None) -> int:
    """CPU in whole millicores (rounded down); 0 for a missing or malformed value.

    For amounts read back from clusters (node capacity), where one odd value must not break a
    probe; user input is checked with ``check_cpu`` instead."""
    try:
        return int(parse_quantity(text).value * 1000) if text else 0
    except QuantityError:
        return 0


def memory_bytes(text: str | None) -> int:
    """Memory in whole bytes (rounded down); 0 for a missing or malformed value (see ``cpu_millis``)."""
    try:
        return int(parse_quantity(text).value) if text else 0
    except QuantityError:
        return 0
