"""Outputs per dependency type (DESIGN §10.1), split into values and secrets: what a consumer
may read (host, port, names) and what reaches containers only through a Kubernetes Secret
(passwords, connection strings, keys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

SCHEMES = {"postgres": "postgresql", "mysql": "mysql"}


@dataclass
class Outputs:
    values: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)


def database(kind: str, *, host: str, port: int, database: str, username: str, password: str) -> Outputs:
    """``postgres``/``mysql``: host port database username | password url."""
    url = f"{SCHEMES[kind]}://{quote(username, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}"
    return Outputs(
        values={"host": host, "port": str(port), "database": database, "username": username},
        secrets={"password": password, "url": url},
    )


def redis(*, host: str, port: int, password: str, tls: bool = False) -> Outputs:
    """``redis``: host port | password url."""
    scheme = "rediss" if tls else "redis"
    auth = f":{quote(password, safe='')}@" if password else ""
    return Outputs(
        values={"host": host, "port": str(port)},
        secrets={"password": password, "url": f"{scheme}://{auth}{host}:{port}/0"},
    )


def bucket(*, name: str, region: str, endpoint: str, access_key_id: str = "", secret_access_key: str = "") -> Outputs:
    """``bucket``: name region endpoint | the access keys when the bucket has its own."""
    secrets = {"access_key_id": access_key_id, "secret_access_key": secret_access_key} if access_key_id else {}
    return Outputs(values={"name": name, "region": region, "endpoint": endpoint}, secrets=secrets)


def secret(*, keys: dict[str, str], name: str, arn: str = "") -> Outputs:
    """``secret``: its keys (all secret) | its name (and ARN in AWS)."""
    values = {"name": name} | ({"arn": arn} if arn else {})
    return Outputs(values=values, secrets=dict(keys))
