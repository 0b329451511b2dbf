"""The catalogue of dependency types: what each provides (its outputs), which outputs are secret,
and which service provides it.

Outputs are what ``${dependencies.NAME.OUTPUT}`` references may name. Secret outputs reach
containers only through a Kubernetes Secret (workload-delivery routes every env value that
references one into a Secret).

Decisions beyond DESIGN §10.1:

- ``secret``: its outputs are the keys listed in ``params.keys`` (each ``[A-Za-z_][A-Za-z0-9_-]*``),
  all secret.
- ``dns``: ``fqdn``, the managed DNS name, and ``host``, the same value (Score's dns resource
  calls it ``host``).
- ``metrics`` and ``logging``: ``endpoint``, where to push metrics / ship logs (not secret).
- ``bucket``: ``name region endpoint``, and ``role_arn`` on EKS clusters the platform built;
  access is granted by the platform (workload identity: the consumer's ServiceAccounts get the
  role), so there are no key outputs.

Cluster-service types (``ingress tls dns metrics logging secrets``) are what AddonProfiles and
addon ServiceClasses provide; ``tls`` and ``secrets`` are pulled in by the platform (TLS for an
ingress, external-secrets for cloud secrets), never declared by apps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from google.protobuf import struct_pb2

ProvidedBy = Literal["managed", "addon", "application"]
# The service that binds a claim for a dependency (workload-delivery asks it).
Provider = Literal["infra", "addons", "application"]


@dataclass(frozen=True)
class Output:
    """One output of a dependency."""

    name: str
    secret: bool
    description: str


@dataclass(frozen=True)
class DependencyType:
    """A kind of dependency an application may declare."""

    name: str
    description: str
    provided_by: ProvidedBy
    outputs: tuple[Output, ...]
    # For `secret`, outputs come from a params list instead of being fixed.
    outputs_from_param: str | None = None


def _o(name: str, description: str, *, secret: bool = False) -> Output:
    return Output(name, secret, description)


_DATABASE_OUTPUTS = (
    _o("host", "the server's host name"),
    _o("port", "the server's port"),
    _o("database", "the database name"),
    _o("username", "the user to connect as"),
    _o("password", "the user's password", secret=True),
    _o("url", "a connection URL including the password", secret=True),
)

DEPENDENCY_TYPES: Mapping[str, DependencyType] = MappingProxyType(
    {
        t.name: t
        for t in (
            DependencyType("postgres", "a PostgreSQL database", "managed", _DATABASE_OUTPUTS),
            DependencyType("mysql", "a MySQL database", "managed", _DATABASE_OUTPUTS),
            DependencyType(
                "redis",
                "a Redis server",
                "managed",
                (
                    _o("host", "the server's host name"),
                    _o("port", "the server's port"),
                    _o("password", "the password", secret=True),
                    _o("url", "a connection URL including the password", secret=True),
                ),
            ),
            DependencyType(
                "bucket",
                "an object storage bucket (S3)",
                "managed",
                (
                    _o("name", "the bucket name"),
                    _o("region", "the bucket's region"),
                    _o("endpoint", "the endpoint URL"),
                    _o("role_arn", "the IAM role its workloads assume (on EKS clusters the platform built)"),
                ),
            ),
            DependencyType(
                "secret",
                "a set of secret values kept by the platform",
                "managed",
                (),
                outputs_from_param="keys",
            ),
            DependencyType(
                "ingress",
                "HTTP(S) traffic from outside to a component's port",
                "addon",
                (
                    _o("host", "the public host name"),
                    _o("url", "the public URL"),
                ),
            ),
            DependencyType(
                "dns",
                "a managed DNS name",
                "addon",
                (
                    _o("fqdn", "the fully qualified DNS name"),
                    _o("host", "the same name (Score's name for it)"),
                ),
            ),
            DependencyType(
                "metrics", "metrics collection", "addon", (_o("endpoint", "where to push metrics"),)
            ),
            DependencyType("logging", "log collection", "addon", (_o("endpoint", "where to ship logs"),)),
            DependencyType(
                "application",
                "a component of another application",
                "application",
                (
                    _o("host", "the component's in-cluster host name"),
                    _o("port", "the port number"),
                    _o("url", "a URL for the port"),
                ),
            ),
        )
    }
)

CLUSTER_SERVICE_TYPES = ("dns", "ingress", "logging", "metrics", "secrets", "tls")

SECRET_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def known_types() -> list[str]:
    """Every dependency type an application may declare, sorted (for error messages)."""
    return sorted(DEPENDENCY_TYPES)


def profiled_types() -> list[str]:
    """Every type a ServiceClass may name: managed and addon dependency types and cluster services."""
    managed = {t.name for t in DEPENDENCY_TYPES.values() if t.provided_by != "application"}
    return sorted(managed | set(CLUSTER_SERVICE_TYPES))


def outputs_of(type_name: str, params: struct_pb2.Struct | None = None) -> dict[str, Output]:
    """The outputs a dependency of this type and these params provides; empty for unknown types."""
    dependency_type = DEPENDENCY_TYPES.get(type_name)
    if dependency_type is None:
        return {}
    if dependency_type.outputs_from_param is None:
        return {output.name: output for output in dependency_type.outputs}
    outputs: dict[str, Output] = {}
    if params is not None and dependency_type.outputs_from_param in params.fields:
        value = params.fields[dependency_type.outputs_from_param]
        for item in value.list_value.values:
            if item.WhichOneof("kind") == "string_value" and SECRET_KEY.fullmatch(item.string_value):
                outputs[item.string_value] = Output(item.string_value, True, "a secret value")
    return outputs


def is_secret_output(type_name: str, output: str) -> bool:
    """Whether this output of a dependency of this type is secret (every output of ``secret``)."""
    dependency_type = DEPENDENCY_TYPES.get(type_name)
    if dependency_type is None:
        return False
    if dependency_type.outputs_from_param is not None:
        return True
    return any(candidate.name == output and candidate.secret for candidate in dependency_type.outputs)


def provider_of(type_name: str) -> Provider:
    """Which service provides a dependency of this type: another application's components, the
    infra-provider (managed services), or the addon-manager (cluster services, and any type this
    catalogue does not know: the registry accepts only those an Addon provides)."""
    dependency_type = DEPENDENCY_TYPES.get(type_name)
    if dependency_type is not None and dependency_type.provided_by == "application":
        return "application"
    if type_name in CLUSTER_SERVICE_TYPES or dependency_type is None:
        return "addons"
    return "infra"
