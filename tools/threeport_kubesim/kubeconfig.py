"""Writes a kubeconfig file per TLS cluster (server URL, CA data, bearer token): the only kind
kubectl sends its token to."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def kubeconfig_document(name: str, server: str, token: str, ca_pem: str) -> dict[str, Any]:
    cluster = {"server": server, "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode()}
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


def write_kubeconfig(directory: Path, name: str, server: str, token: str, ca_pem: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.kubeconfig"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump(kubeconfig_document(name, server, token, ca_pem), sort_keys=False))
    temporary.chmod(0o600)
    os.replace(temporary, path)
    return path
