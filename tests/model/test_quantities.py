"""threeport_model.quantities: Kubernetes quantities, parsed exactly."""

from __future__ import annotations

from fractions import Fraction

import pytest

from threeport_model.quantities import QuantityError, check_bytes, check_cpu, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Fraction(1, 10)),
        ("0.5", Fraction(1, 2)),
        ("1", Fraction(1)),
        (".5", Fraction(1, 2)),
        ("2.", Fraction(2)),
        ("+3", Fraction(3)),
        ("-1", Fraction(-1)),
        ("256Mi", Fraction(256 * 2**20)),
        ("1Gi", Fraction(2**30)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("5e-1", Fraction(1, 2)),
        ("1k", Fraction(1000)),
        ("1M", Fraction(10**6)),
        ("1E", Fraction(10**18)),
        ("2Ei", Fraction(2 * 2**60)),
    ],
)
def test_quantities_parse_exactly(text: str, value: Fraction) -> None:
    assert parse_quantity(text).value == value


@pytest.mark.parametrize(
    "text", ["", "Mi", "1K", "1mi", "1 Gi", "1.2.3", "1e", "1e1.5", "1Gib", "0x10", "1e99", "--1"]
)
def test_quantity_rejects(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_cpu_and_bytes_rules() -> None:
    assert check_cpu("1m") is None
    assert check_cpu("0.001") is None
    assert "less than 1m" in (check_cpu("0.0005") or "")
    assert check_bytes("1Gi", "memory") is None
    assert check_bytes("1e9", "memory") is None
    assert "did you mean 512Mi" in (check_bytes("512m", "memory") or "")
    assert "whole number" in (check_bytes("0.5", "memory") or "")
