"""The local control plane's own secrets: the service credential shared by its services, the
encryption keys for fields stored encrypted, and the password of the embedded PostgreSQL and
Redis. Made once, kept in the state directory (0600)."""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
from pathlib import Path


def _read_or_create(path: Path, make: str) -> str:
    """The secret kept in ``path``; ``make`` becomes it if there is none yet.

    Callers may race (``up`` starts the services at once, and each one's settings name these
    files): the file is written aside and linked into place, which fails if another caller
    linked first, so a reader never sees it half written and every caller gets the one secret
    that was kept."""
    if path.exists():
        return path.read_text().strip()
    descriptor, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(make + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            return path.read_text().strip()
    finally:
        os.unlink(aside)
    return make


def service_credential(state_dir: Path) -> str:
    return _read_or_create(state_dir / "service-credential", secrets.token_urlsafe(32))


def encryption_keys_file(state_dir: Path) -> Path:
    """A keys file in the runtime's format (``kid:base64key`` per line, current key first)."""
    path = state_dir / "encryption-keys"
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    _read_or_create(path, f"local-1:{key}")
    return path


def datastore_password_file(state_dir: Path) -> Path:
    """The password the embedded PostgreSQL (user ``postgres``) and Redis require."""
    path = state_dir / "datastore-password"
    _read_or_create(path, secrets.token_urlsafe(24))
    return path
