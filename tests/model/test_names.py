"""threeport_model.names: the one set of name rules."""

from __future__ import annotations

import pytest

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
