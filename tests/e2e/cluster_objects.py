"""Reads objects from the control plane's emulated cluster, as kubectl would (for assertions)."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.parse
import urllib.request
from typing import Any

from tests.e2e.conftest import ControlPlane
from threeport_cli.local.statedir import StateDir
from threeport_kubesim.control import ControlClient


def list_objects(cp: ControlPlane, path: str, label_selector: str) -> list[dict[str, Any]]:
    """``GET path?labelSelector=...`` on the cluster `clusters/local` runs on."""
    with cp.client() as client:
        infrastructure = client.cluster.get_cluster(name="clusters/local").status.infrastructure
    kubesim = StateDir(cp.state_dir).load().find("kubesim")
    assert kubesim is not None
    info = ControlClient(kubesim.url).get_cluster(infrastructure.removeprefix("sim/"))
    tls = ssl.create_default_context(cadata=base64.b64decode(info.ca_data).decode()) if info.ca_data else None
    request = urllib.request.Request(
        f"{info.server}{path}?labelSelector={urllib.parse.quote(label_selector)}",
        headers={"Authorization": f"Bearer {info.token}"})
    with urllib.request.urlopen(request, timeout=10, context=tls) as response:
        items: list[dict[str, Any]] = json.loads(response.read())["items"]
    return items
