"""Locations (``Continent:City``) and the cloud region each one maps to.

This is the cluster-manager's own copy of the table the registry validates against: services do
not import each other's packages (DESIGN §2), and the table is small. Keep the two in step.
"""

from __future__ import annotations

import re
from types import MappingProxyType

AWS_REGIONS = MappingProxyType(
    {
        "NorthAmerica:NewYork": "us-east-1",
        "NorthAmerica:Columbus": "us-east-2",
        "NorthAmerica:SanFrancisco": "us-west-1",
        "NorthAmerica:Portland": "us-west-2",
        "NorthAmerica:Montreal": "ca-central-1",
        "SouthAmerica:SaoPaulo": "sa-east-1",
        "Europe:Frankfurt": "eu-central-1",
        "Europe:Dublin": "eu-west-1",
        "Europe:London": "eu-west-2",
        "Europe:Paris": "eu-west-3",
        "Europe:Stockholm": "eu-north-1",
        "Europe:Milan": "eu-south-1",
        "Asia:Tokyo": "ap-northeast-1",
        "Asia:Seoul": "ap-northeast-2",
        "Asia:Osaka": "ap-northeast-3",
        "Asia:Singapore": "ap-southeast-1",
        "Asia:Mumbai": "ap-south-1",
        "Asia:HongKong": "ap-east-1",
        "Oceania:Sydney": "ap-southeast-2",
        "Africa:CapeTown": "af-south-1",
        "MiddleEast:Bahrain": "me-south-1",
    }
)
_FORMAT = re.compile(r"[A-Z][A-Za-z]*:[A-Z][A-Za-z]*")


def region_for(location: str) -> str:
    """The AWS region of a known location; '' for an empty or unknown one."""
    return AWS_REGIONS.get(location, "")


def location_problem(text: str) -> str | None:
    """None for a known location, else what is wrong and which locations exist."""
    known = ", ".join(sorted(AWS_REGIONS))
    if not _FORMAT.fullmatch(text):
        return f"{text!r} is not a location: use Continent:City, one of {known}"
    if text not in AWS_REGIONS:
        return f"unknown location {text!r}; use one of {known}"
    return None
