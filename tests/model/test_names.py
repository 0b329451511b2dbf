"""threeport_model.names: the one set of name rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threeport_model import names


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("api", True),
        ("a", True),
        ("a-1", True),
        ("1a", False),
        ("a-", False),
        ("a_b", False),
        ("a" * 63, True),
        ("a" * 64, False),
        ("", False),
    ],
)
def test_ids(text: str, ok: bool) -> None:
    assert (names.check_id(text) is None) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("http", True),
        ("grpc-api", True),
        ("h2c", True),
        ("a" * 15, True),
        ("a" * 16, False),
        ("8080", False),
        ("-http", False),
        ("Http", False),
    ],
)
def test_port_names(text: str, ok: bool) -> None:
    assert (names.check_port_name(text) is None) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("team", True),
        ("app.kubernetes.io/name", True),
        ("a/b/c", False),
        ("x/", False),
        ("/x", False),
        ("a_b.c-d", True),
        ("_a", False),
    ],
)
def test_label_keys(text: str, ok: bool) -> None:
    assert (names.check_label_key(text) is None) is ok


def test_resource_names() -> None:
    assert names.parse_resource_name("clusters/prod-use1", "clusters") == "prod-use1"
    assert names.parse_resource_name("cluster/prod", "clusters") is None
    assert names.parse_resource_name("clusters/prod/x", "clusters") is None
    assert names.parse_environment_name("projects/acme/environments/prod") == ("acme", "prod")
    assert names.parse_environment_name("projects/acme/envs/prod") is None


LABEL = st.from_regex(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)


@given(text=st.text(max_size=70))
def test_is_dns_label_and_check_id_are_one_rule(text: str) -> None:
    assert names.is_dns_label(text) is (names.check_id(text) is None)


@given(label=LABEL)
def test_labels_are_ids_and_name_resources(label: str) -> None:
    assert names.is_dns_label(label)
    assert names.parse_resource_name(f"clusters/{label}", "clusters") == label
    assert names.check_resource_name(f"clusters/{label}", "clusters") is None
    assert names.parse_environment_name(f"projects/{label}/environments/{label}") == (label, label)
    assert names.check_dns_name(f"{label}.example.com") is None
    assert names.check_label_value(label) is None


@given(label=LABEL, junk=st.sampled_from(["\n", "-", "_", ".", "A", " ", "/x"]))
def test_a_label_with_anything_else_at_the_end_is_not_one(label: str, junk: str) -> None:
    # "\n": the old copies matched with re.match and "$", which let a trailing newline through.
    assert not names.is_dns_label(label + junk)
    assert names.parse_resource_name(f"clusters/{label}{junk}", "clusters") is None


@given(label=LABEL)
def test_a_label_never_starts_with_a_digit_or_exceeds_63_characters(label: str) -> None:
    assert not names.is_dns_label("1" + label)
    assert not names.is_dns_label(label + "a" * (64 - len(label)))
