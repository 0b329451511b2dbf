"""threeport_model.dependency_types: outputs per type (DESIGN §10.1), which are secret, who provides."""

from __future__ import annotations

import pytest
from google.protobuf import struct_pb2

from threeport_model.dependency_types import (
    DEPENDENCY_TYPES,
    is_secret_output,
    known_types,
    outputs_of,
    profiled_types,
    provider_of,
)


@pytest.mark.parametrize(
    ("type_name", "outputs"),
    [
        ("postgres", {"host", "port", "database", "username", "password", "url"}),
        ("mysql", {"host", "port", "database", "username", "password", "url"}),
        ("redis", {"host", "port", "password", "url"}),
        ("bucket", {"name", "region", "endpoint"}),
        ("ingress", {"host", "url"}),
        ("application", {"host", "port", "url"}),
    ],
)
def test_outputs_are_at_least_those_of_the_design(type_name: str, outputs: set[str]) -> None:
    assert outputs <= set(outputs_of(type_name))


@pytest.mark.parametrize(
    ("type_name", "output", "secret"),
    [
        ("postgres", "password", True),
        ("postgres", "url", True),
        ("postgres", "host", False),
        ("redis", "url", True),
        ("bucket", "endpoint", False),
        ("secret", "anything", True),
        ("application", "url", False),
        ("no-such-type", "password", False),
    ],
)
def test_secret_outputs(type_name: str, output: str, secret: bool) -> None:
    assert is_secret_output(type_name, output) is secret


def test_a_secret_dependency_has_the_keys_it_lists_as_secret_outputs() -> None:
    params = struct_pb2.Struct()
    params.update({"keys": ["API_TOKEN", "bad key", 3]})

    outputs = outputs_of("secret", params)

    assert list(outputs) == ["API_TOKEN"] and outputs["API_TOKEN"].secret
    assert outputs_of("secret") == {} and outputs_of("no-such-type") == {}


@pytest.mark.parametrize(
    ("type_name", "provider"),
    [
        ("postgres", "infra"),
        ("bucket", "infra"),
        ("secret", "infra"),
        ("ingress", "addons"),
        ("tls", "addons"),
        ("secrets", "addons"),
        ("application", "application"),
        ("made-up-by-an-addon", "addons"),  # e.g. kafka from an Addon that provides it
    ],
)
def test_provider_of(type_name: str, provider: str) -> None:
    assert provider_of(type_name) == provider


def test_every_catalogued_type_is_declarable_and_only_non_application_ones_are_profiled() -> None:
    assert known_types() == sorted(DEPENDENCY_TYPES)
    assert "application" not in profiled_types() and {"postgres", "tls"} <= set(profiled_types())
