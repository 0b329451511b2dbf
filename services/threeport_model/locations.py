"""Locations (``Continent:City``) and the AWS region each one maps to.

Users say where an app should run in words, not in a cloud's region codes; the infra-provider
maps the location to a region. The table:

=========================  ==============
location                   AWS region
=========================  ==============
NorthAmerica:NewYork       us-east-1
NorthAmerica:Columbus      us-east-2
NorthAmerica:SanFrancisco  us-west-1
NorthAmerica:Portland      us-west-2
NorthAmerica:Montreal      ca-central-1
SouthAmerica:SaoPaulo      sa-east-1
Europe:Frankfurt           eu-central-1
Europe:Dublin              eu-west-1
Europe:London              eu-west-2
Europe:Paris               eu-west-3
Europe:Stockholm           eu-north-1
Europe:Milan               eu-south-1
Asia:Tokyo                 ap-northeast-1
Asia:Seoul                 ap-northeast-2
Asia:Osaka                 ap-northeast-3
Asia:Singapore             ap-southeast-1
Asia:Mumbai                ap-south-1
Asia:HongKong              ap-east-1
Oceania:Sydney             ap-southeast-2
Africa:CapeTown            af-south-1
MiddleEast:Bahrain         me-south-1
=========================  ==============
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


def known_locations() -> list[str]:
    """Every known location, sorted."""
    return sorted(AWS_REGIONS)


def aws_region(location: str) -> str | None:
    """The AWS region of a location; None for an empty or unknown one."""
    return AWS_REGIONS.get(location)


def check_location(text: str) -> str | None:
    """A known ``Continent:City`` location; the description lists the valid ones."""
    known = ", ".join(known_locations())
    if not _FORMAT.fullmatch(text):
        return f"{text!r} is not a location: use Continent:City, one of {known}"
    if text not in AWS_REGIONS:
        return f"unknown location {text!r}; use one of {known}"
    return None
