"""Writes a kubeconfig file per simulated cluster (server URL, CA data, bearer token)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def kubeconfig_document(name: str, server: str, token: str, ca_pem: str | None) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    user = f"{name}-admin"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }


def write_kubeconfig(directory: Path, name: str, server: str, token: str, ca_pem: str | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.kubeconfig"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump(kubeconfig_document(name, server, token, ca_pem), sort_keys=False))
    temporary.chmod(0o600)
    os.replace(temporary, path)
    return path
