"""How each Score resource type becomes a Threeport dependency, and what its outputs are called.

The output names are those of Score's reference provisioners (score-compose's and score-k8s's
default provisioners, and the community ``service``/``endpoint`` provisioners), so that files
written for them convert unchanged:

============  ==============  ====================================================================
Score type    dependency      Score outputs (→ Threeport output, or a fixed value)
============  ==============  ====================================================================
postgres      postgres        host port username password url, ``name``/``database`` → database
mysql         mysql           as postgres
redis         redis           host port password url, ``username`` = ``default`` (Redis' own user)
s3            bucket          ``bucket`` → name, region, endpoint; the access keys are refused
                              (access comes from the workload's identity)
dns           dns             host (fqdn)
service       application     ``name`` (and ``host``) → host, port, url; the workload is the
                              resource's ``id`` (its last ``.`` segment) or else its name
endpoint      application     as service, plus ``params.port`` (the other workload's port)
service-port  application     ``hostname`` → host, port; ``params.workload`` and ``params.port``
route         ingress         none (see ``score``)
volume        storage         none (mounted through ``volumes``)
other         the same name   accepted when the addon catalog provides it (an Addon whose
                              ``provides`` names it); the outputs are the addon's
============  ==============  ====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from threeport_model.dependency_types import outputs_of
from threeport_registry.domain.dependencies import ProvidedTypes

WORKLOAD_TYPES = ("service", "endpoint", "service-port")
_KEYS_REFUSED = (
    "access is granted by the platform through the workload's identity, so there are no keys: "
    "drop the variable (AWS SDKs find their credentials by themselves)"
)


@dataclass(frozen=True)
class ScoreType:
    """One Score resource type as Threeport provides it."""

    dependency_type: str
    # Score output name -> Threeport output name (when they differ).
    renames: Mapping[str, str] = field(default_factory=dict)
    # Outputs whose value is the same everywhere.
    constants: Mapping[str, str] = field(default_factory=dict)
    # Outputs Threeport deliberately does not provide, with the reason.
    refused: Mapping[str, str] = field(default_factory=dict)
    # Params passed through to the dependency; the others are dropped with a warning.
    params: tuple[str, ...] = ()


_DATABASE = {"name": "database"}
_WORKLOAD = {"name": "host"}

SCORE_TYPES: Mapping[str, ScoreType] = MappingProxyType(
    {
        "postgres": ScoreType("postgres", _DATABASE, params=("version", "database")),
        "mysql": ScoreType("mysql", _DATABASE, params=("version", "database")),
        "redis": ScoreType("redis", constants={"username": "default"}, params=("version",)),
        "s3": ScoreType(
            "bucket",
            {"bucket": "name"},
            refused={key: _KEYS_REFUSED for key in
                     ("access_key_id", "secret_key", "aws_access_key_id", "aws_secret_key")},
        ),
        "dns": ScoreType("dns", params=("host",)),
        "route": ScoreType("ingress"),
        "volume": ScoreType("storage"),
        "service": ScoreType("application", _WORKLOAD),
        "endpoint": ScoreType("application", _WORKLOAD),
        "service-port": ScoreType("application", {"hostname": "host"}),
    }
)


def score_type(name: str, provided: ProvidedTypes) -> ScoreType | None:
    """The mapping for a Score type: a built-in one, else the catalog's type of the same name."""
    if name in SCORE_TYPES:
        return SCORE_TYPES[name]
    if name in provided:
        return ScoreType(name)
    return None


def known_types(provided: ProvidedTypes) -> list[str]:
    """Every Score type accepted now (for error messages)."""
    return sorted(set(SCORE_TYPES) | set(provided))


def score_outputs(mapping: ScoreType, provided: ProvidedTypes) -> dict[str, str | None]:
    """Score output name -> the Threeport output it reads, or None for a fixed value."""
    if mapping.dependency_type in provided and mapping.dependency_type not in {
        t.dependency_type for t in SCORE_TYPES.values()
    }:
        threeport_outputs = set(provided[mapping.dependency_type])
    else:
        threeport_outputs = set(outputs_of(mapping.dependency_type))
    outputs: dict[str, str | None] = {name: name for name in threeport_outputs}
    for score_name, threeport_name in mapping.renames.items():
        if threeport_name in threeport_outputs:
            outputs[score_name] = threeport_name
    for constant in mapping.constants:
        outputs[constant] = None
    return outputs
