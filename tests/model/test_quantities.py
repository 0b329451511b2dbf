"""threeport_model.quantities: Kubernetes quantities, parsed exactly."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threeport_model.quantities import (
    QuantityError,
    check_bytes,
    check_cpu,
    cpu_millis,
    memory_bytes,
    parse_quantity,
)


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


BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {"m": Fraction(1, 1000), "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
SUFFIXES = {**BINARY, **DECIMAL}


@given(
    whole=st.integers(min_value=0, max_value=10**12),
    fraction=st.text("0123456789", max_size=6),
    suffix=st.sampled_from(sorted(SUFFIXES)),
    sign=st.sampled_from(["", "+", "-"]),
)
def test_a_written_quantity_parses_back_to_its_exact_value(whole: int, fraction: str, suffix: str, sign: str) -> None:
    number = f"{whole}.{fraction}" if fraction else str(whole)
    text = f"{sign}{number}{suffix}"

    parsed = parse_quantity(text)

    expected = Fraction(number) * SUFFIXES[suffix] * (-1 if sign == "-" else 1)
    assert parsed.value == expected and parsed.text == text


@given(mantissa=st.integers(min_value=0, max_value=10**6), exponent=st.integers(min_value=-30, max_value=30))
def test_exponents_scale_by_powers_of_ten(mantissa: int, exponent: int) -> None:
    for marker in ("e", "E"):
        assert parse_quantity(f"{mantissa}{marker}{exponent}").value == mantissa * Fraction(10) ** exponent


@given(millicores=st.integers(min_value=1, max_value=10**9))
def test_cpu_round_trips_through_millicores(millicores: int) -> None:
    assert cpu_millis(f"{millicores}m") == millicores
    assert check_cpu(f"{millicores}m") is None
    if millicores % 1000 == 0:
        assert cpu_millis(str(millicores // 1000)) == millicores


@given(amount=st.integers(min_value=1, max_value=2**20), suffix=st.sampled_from(sorted(BINARY)))
def test_memory_round_trips_through_bytes(amount: int, suffix: str) -> None:
    assert memory_bytes(f"{amount}{suffix}") == amount * BINARY[suffix]
    assert check_bytes(f"{amount}{suffix}", "memory") is None


@given(text=st.text(max_size=20))
def test_any_text_is_a_quantity_or_a_quantity_error(text: str) -> None:
    try:
        parse_quantity(text)
    except QuantityError as error:
        assert repr(text) in str(error)
    # Neither values read back from clusters nor user input ever raise anything else.
    cpu_millis(text)
    memory_bytes(text)
    check_cpu(text)
    check_bytes(text, "memory")


@pytest.mark.parametrize("text", [None, "", "bogus", "1.5e3Mi", " 1Gi"])
def test_unreadable_values_from_clusters_count_as_zero(text: str | None) -> None:
    assert cpu_millis(text) == 0 and memory_bytes(text) == 0
