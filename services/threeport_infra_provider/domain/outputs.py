"""Outputs per dependency type (DESIGN §10.1), split into values and secrets by the shared
catalogue (``threeport_model.dependency_types``): what a consumer may read (host, port, names)
and what reaches containers only through a Kubernetes Secret (passwords, connection strings,
keys). An output the catalogue does not list (a local bucket's access keys) is secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from threeport_model.dependency_types import is_secret_output, outputs_of

SCHEMES = {"postgres": "postgresql", "mysql": "mysql"}


@dataclass
class Outputs:
    values: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)


def split(type_name: str, everything: dict[str, str]) -> Outputs:
    known = outputs_of(type_name)
    found = Outputs()
    for name, value in everything.items():
        secret = name not in known or is_secret_output(type_name, name)
        (found.secrets if secret else found.values)[name] = value
    return found


def database(kind: str, *, host: str, port: int, database: str, username: str, password: str) -> Outputs:
    """``postgres``/``mysql``: host port database username | password url."""
    url = f"{SCHEMES[kind]}://{quote(username, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}"
    return split(
        kind,
        {"host": host, "port": str(port), "database": database, "username": username, "password": password, "url": url},
    )


def redis(*, host: str, port: int, password: str, tls: bool = False) -> Outputs:
    """``redis``: host port | password url."""
    scheme = "rediss" if tls else "redis"
    auth = f":{quote(password, safe='')}@" if password else ""
    return split(
        "redis", {"host": host, "port": str(port), "password": password, "url": f"{scheme}://{auth}{host}:{port}/0"}
    )


def bucket(
    *, name: str, region: str, endpoint: str, access_key_id: str = "", secret_access_key: str = "", role_arn: str = ""
) -> Outputs:
    """``bucket``: name region endpoint (role_arn: the IAM role its workloads assume) | the access
    keys when the bucket has its own (local)."""
    keys = {"access_key_id": access_key_id, "secret_access_key": secret_access_key} if access_key_id else {}
    role = {"role_arn": role_arn} if role_arn else {}
    return split("bucket", {"name": name, "region": region, "endpoint": endpoint} | role | keys)


def secret(*, keys: dict[str, str], name: str, arn: str = "") -> Outputs:
    """``secret``: its keys (all secret); where it lives (name, and ARN in AWS) as values."""
    values = {"name": name} | ({"arn": arn} if arn else {})
    return Outputs(values=values, secrets=dict(keys))
