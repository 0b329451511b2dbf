"""After a scenario (tokens issued, a cluster's credentials stored, an application deployed), no
secret appears where it must not: logs, events, plain database columns, Redis streams, or API
responses. Secrets: every API token, the datastore password, the service credential, the
encryption keys and the emulated cluster's kubeconfig token."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import psycopg
import redis

from tests.e2e.conftest import ControlPlane
from tests.security.conftest import Tenants
from tests.security.test_tenancy import deploy


def known_secrets(plane: ControlPlane, tenants: Tenants) -> dict[str, str]:
    state = plane.state_dir
    found = {f"token {project}/{role}": token for (project, role), token in tenants.tokens.items()}
    found["admin token"] = (state / "admin-token").read_text().strip()
    found["datastore password"] = (state / "datastore-password").read_text().strip()
    found["service credential"] = (state / "service-credential").read_text().strip()
    for line in (state / "encryption-keys").read_text().split():
        key_id, key = line.split(":", 1)
        found[f"encryption key {key_id}"] = key
        found[f"encryption key {key_id} (hex)"] = base64.b64decode(key).hex()
    for kubeconfig in (state / "kubesim" / "kubeconfigs").glob("*"):
        for line in kubeconfig.read_text().splitlines():
            if line.strip().startswith(("token:", "client-key-data:")):
                found[f"{kubeconfig.name} {line.split(':')[0].strip()}"] = line.split(":", 1)[1].strip()
    return {what: value for what, value in found.items() if len(value) >= 16}


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [what for what, value in secrets.items() if value in text]


def database_text(plane: ControlPlane) -> dict[str, str]:
    urls = {p["name"]: p["url"] for p in json.loads((plane.state_dir / "processes.json").read_text())["processes"]}
    tables: dict[str, str] = {}
    with psycopg.connect(urls["postgres"].replace("postgresql+psycopg://", "postgresql://")) as db:
        names = db.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()
        for schema, table in names:
            rows = db.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall()
            tables[f"{schema}.{table}"] = "\n".join(row[0] for row in rows)
    return tables


def stream_text(plane: ControlPlane) -> str:
    urls = {p["name"]: p["url"] for p in json.loads((plane.state_dir / "processes.json").read_text())["processes"]}
    client = redis.Redis.from_url(urls["redis"])
    chunks: list[str] = []
    for key in client.scan_iter(count=500):
        if client.type(key) == b"stream":
            entries: Any = client.xrange(key)
            for _id, fields in entries:
                chunks.extend(bytes(value).decode("latin-1") for value in fields.values())
    return "\n".join(chunks)


def test_no_secret_appears_in_logs_events_columns_streams_or_responses(
    control_plane: ControlPlane, tenants: Tenants, tmp_path: Path
) -> None:
    cp = control_plane
    deploy(cp, tmp_path, "sec-a", "hygiene")
    secrets = known_secrets(cp, tenants)
    assert len(secrets) >= 10, sorted(secrets)

    for log in (cp.state_dir / "logs").glob("*.log"):
        assert not leaks(log.read_text(errors="replace"), secrets), log.name
    for table, text in database_text(cp).items():
        found = leaks(text, secrets)
        assert not found, f"{table} holds {found} in plain text"
    assert not leaks(stream_text(cp), secrets), "a Redis stream carries a secret"
    outputs = [
        cp.tptctl("events", "-p", "sec-a"), cp.tptctl("describe", "cluster", "local"),
        cp.tptctl("get", "cluster", "local", "-o", "yaml"), cp.tptctl("token", "list"),
        cp.tptctl("get", "auditentries", "-o", "yaml"), cp.tptctl("status", "--state-dir", str(cp.state_dir)),
        cp.tptctl("describe", "deployment", "hygiene-dev", "-p", "sec-a"),
    ]
    for outcome in outputs:
        assert not leaks(outcome.out + outcome.err, secrets), outcome.out[:300]
