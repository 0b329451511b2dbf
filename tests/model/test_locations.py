"""threeport_model.locations: locations and their AWS regions."""

from __future__ import annotations

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
