"""Edge cases of the syntax parsers: quantities, image references, references, names, locations."""

from __future__ import annotations

from fractions import Fraction

import pytest

from threeport_registry.domain import locations, names, references
from threeport_registry.domain.images import ImageReference, ImageReferenceError, parse_image_reference
from threeport_registry.domain.quantities import QuantityError, check_bytes, check_cpu, parse_quantity


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


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("nginx", ImageReference("", "nginx", "", "")),
        ("library/nginx:1.27", ImageReference("", "library/nginx", "1.27", "")),
        (
            "registry.example.com/ledger/api:1.0.0",
            ImageReference("registry.example.com", "ledger/api", "1.0.0", ""),
        ),
        ("localhost:5000/app", ImageReference("localhost:5000", "app", "", "")),
        ("localhost/app:v1", ImageReference("localhost", "app", "v1", "")),
        ("reg.io:443/a/b/c:latest", ImageReference("reg.io:443", "a/b/c", "latest", "")),
        ("[::1]:5000/app:1", ImageReference("[::1]:5000", "app", "1", "")),
        ("a/my_app__x--y.z:V_1.0-rc", ImageReference("", "a/my_app__x--y.z", "V_1.0-rc", "")),
        ("app@sha256:" + "f" * 64, ImageReference("", "app", "", "sha256:" + "f" * 64)),
        ("r.io/app:1@sha256:" + "0" * 64, ImageReference("r.io", "app", "1", "sha256:" + "0" * 64)),
    ],
)
def test_image_references_parse(text: str, parsed: ImageReference) -> None:
    assert parse_image_reference(text) == parsed
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "UPPER",
        "app:",
        "app:.tag",
        "app:" + "t" * 129,
        "-app",
        "app-",
        "a//b",
        "a/_b",
        "a/b_",
        "app@sha512:" + "a" * 128,
        "app@sha256:" + "A" * 64,
        "app@sha256:" + "a" * 63,
        "reg.io:0/app",
        "reg.io:http/app",
        "reg.io/",
        "a b",
        "reg_x.io/app",
        "a" * 256,
    ],
)
def test_image_references_rejected(text: str) -> None:
    with pytest.raises(ImageReferenceError):
        parse_image_reference(text)


def test_scan_finds_references_escapes_and_malformed_ones() -> None:
    result = references.scan(
        "a ${dependencies.db.url} $${x} $HOME ${dependencies.x} ${foo.bar.baz} ${dependencies.a.b"
    )

    assert [(r.dependency, r.output) for r in result.references] == [("db", "url")]
    assert [m.text for m in result.malformed] == ["${dependencies.x}", "${foo.bar.baz}", "${dependencies.a.b"]


def test_substitute_replaces_references_and_unescapes() -> None:
    text = "u=${dependencies.db.url} lit=$${HOME} $$ $x"

    assert (
        references.substitute(text, lambda r: f"<{r.dependency}:{r.output}>")
        == "u=<db:url> lit=${HOME} $$ $x"
    )


def test_escape_round_trips_through_substitute() -> None:
    original = "echo ${HOME} $${already}"

    escaped = references.escape(original)

    assert not references.contains_reference_syntax(escaped)
    assert references.substitute(escaped, lambda r: "never") == original


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


def test_locations_map_to_aws_regions() -> None:
    assert locations.aws_region("NorthAmerica:NewYork") == "us-east-1"
    assert locations.aws_region("NorthAmerica:SanFrancisco") == "us-west-1"
    assert locations.aws_region("Europe:Frankfurt") == "eu-central-1"
    assert locations.aws_region("Europe:Dublin") == "eu-west-1"
    assert locations.aws_region("Europe:London") == "eu-west-2"
    assert locations.aws_region("Asia:Tokyo") == "ap-northeast-1"
    assert locations.aws_region("Asia:Singapore") == "ap-southeast-1"
    assert locations.check_location("Europe:Frankfurt") is None
    assert "Europe:London" in (locations.check_location("europe:london") or "")
