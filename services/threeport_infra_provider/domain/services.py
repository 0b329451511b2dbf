"""Which implementation serves which dependency type, their defaults, and the rules for a
claim or a managed service (pure; no I/O)."""

from __future__ import annotations

import re
from typing import Any

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct

from threeport.common.v1alpha1 import retain_policy_pb2
from threeport_model.dependency_types import SECRET_KEY
from threeport_runtime.errors import FieldViolation

IMPLEMENTATIONS: dict[str, frozenset[str]] = {
    "local": frozenset({"postgres", "mysql", "redis", "bucket", "secret"}),
    "aws-rds": frozenset({"postgres", "mysql"}),
    "aws-elasticache": frozenset({"redis"}),
    "aws-s3": frozenset({"bucket"}),
    "aws-secretsmanager": frozenset({"secret"}),
}
TYPES = frozenset().union(*IMPLEMENTATIONS.values())
# What a claim gets when no ServiceClass named an implementation (DESIGN §4: an app with no
# profiles still deploys): an in-cluster service.
DEFAULT_IMPLEMENTATION = "local"
# Databases: their cloud instances are retained by default (caches, buckets and secrets are not).
STATEFUL = frozenset({"postgres", "mysql"})

RETAIN = retain_policy_pb2.RETAIN_POLICY_RETAIN
DELETE = retain_policy_pb2.RETAIN_POLICY_DELETE


def is_cloud(implementation: str) -> bool:
    return implementation.startswith("aws-")


def effective_retain_policy(policy: int, type_: str, implementation: str) -> int:
    """Unset means the provider's default: cloud databases are retained, everything else
    (in-cluster development services, caches, buckets, secrets) is deleted."""
    if policy != retain_policy_pb2.RETAIN_POLICY_UNSPECIFIED:
        return policy
    return RETAIN if is_cloud(implementation) and type_ in STATEFUL else DELETE


def parameters(struct: Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def spec_violations(
    prefix: str, *, type_: str, implementation: str, account: str, cluster: str, namespace: str, params: dict[str, Any]
) -> list[FieldViolation]:
    """Rules shared by ServiceClaim and ManagedService specs (``prefix``: ``service_claim.spec``)."""
    found: list[FieldViolation] = []
    if type_ not in TYPES:
        found.append(FieldViolation(f"{prefix}.type", f"must be one of {', '.join(sorted(TYPES))}"))
    supported = IMPLEMENTATIONS.get(implementation)
    if supported is None:
        found.append(FieldViolation(f"{prefix}.implementation", f"must be one of {', '.join(IMPLEMENTATIONS)}"))
    elif type_ in TYPES and type_ not in supported:
        serving = ", ".join(name for name, types in IMPLEMENTATIONS.items() if type_ in types)
        found.append(
            FieldViolation(f"{prefix}.implementation", f"{implementation} does not provide {type_}; use {serving}")
        )
    if account and not re.match(r"^accounts/[a-z][-a-z0-9]*$", account):
        found.append(FieldViolation(f"{prefix}.account", "must be an account name, accounts/{id}"))
    if implementation == "local":
        if not cluster.startswith("clusters/"):
            found.append(FieldViolation(f"{prefix}.cluster", "local services run in a cluster: clusters/{id}"))
        if not namespace:
            found.append(FieldViolation(f"{prefix}.namespace", "local services need the namespace to run in"))
    if type_ == "secret":
        keys = params.get("keys", [])
        names = keys if isinstance(keys, list) else []
        if not names or not all(isinstance(k, str) and SECRET_KEY.fullmatch(k) for k in names):
            found.append(
                FieldViolation(
                    f"{prefix}.parameters.keys",
                    "a secret needs `keys`: a list of key names (letters, digits, '_' and '-')",
                )
            )
    storage = params.get("storageGb")
    if storage is not None and (not isinstance(storage, (int, float)) or storage < 1 or int(storage) != storage):
        found.append(FieldViolation(f"{prefix}.parameters.storageGb", "must be a whole number of GiB, at least 1"))
    return found
