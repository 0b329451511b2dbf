"""threeport_model.locations: locations and their AWS regions."""

from __future__ import annotations

import re

import pytest

from threeport_model import locations


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


@pytest.mark.parametrize("location", locations.known_locations())
def test_every_known_location_is_valid_and_has_a_region(location: str) -> None:
    assert locations.check_location(location) is None
    assert re.fullmatch(r"[a-z]{2}-[a-z]+-[0-9]", locations.aws_region(location) or "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Europe:Berlin", "unknown location 'Europe:Berlin'"),
        ("Frankfurt", "is not a location"),
        ("", "is not a location"),
    ],
)
def test_other_locations_are_refused_with_the_list_of_known_ones(text: str, problem: str) -> None:
    found = locations.check_location(text) or ""
    assert problem in found and "Europe:Frankfurt" in found
    assert locations.aws_region(text) is None
