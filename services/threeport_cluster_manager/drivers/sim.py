"""The ``sim`` driver: clusters in the project's Kubernetes API emulator, via its control API.

Only provisioning goes through the control API (HTTP+JSON: ``POST /clusters``, ``GET`` and
``DELETE /clusters/{name}``); everything else talks to the emulated API server like to any
cluster. The provider-side name derives from the cluster uid, so a retried create adopts the
cluster an interrupted one made (409 → GET) instead of making a duplicate.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import aiohttp

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport_cluster_manager.drivers.base import DriverError, Provisioning, provider_name
from threeport_cluster_manager.store.credentials import CredentialStore
from threeport_runtime.kube.connection import Connection

_TIMEOUT = aiohttp.ClientTimeout(total=30)


class SimDriver:
    provider = "sim"

    def __init__(self, control_url: str, credentials: CredentialStore):
        self._control_url = control_url
        self._credentials = credentials

    def unavailable(self) -> str | None:
        if not self._control_url:
            return "the sim provider is not configured: set THREEPORT_KUBESIM_URL to the emulator's control URL"
        return None

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT) as session,
                session.request(method, self._control_url + path, json=body) as response,
            ):
                return response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DriverError(f"the emulator's control API at {self._control_url} failed: {exc}") from None

    async def create(self, cluster: cluster_pb2.Cluster) -> Provisioning:
        name = provider_name(cluster)
        # TLS, so that kubectl (which sends tokens only over https) works against sim clusters too.
        status, body = await self._call("POST", "/clusters", {"name": name, "tls": True})
        if status == 409:
            status, body = await self._call("GET", f"/clusters/{name}")
        if status not in (200, 201) or not isinstance(body, dict):
            raise DriverError(f"the emulator refused to create cluster {name}: HTTP {status} {_error(body)}")
        ca = base64.b64decode(body["ca_data"]) if body.get("ca_data") else b""
        connection = Connection(server=str(body["server"]), certificate_authority_data=ca, token=str(body["token"]))
        return Provisioning(ready=True, connection=connection, infrastructure=f"sim/{name}")

    async def delete(self, cluster: cluster_pb2.Cluster) -> bool:
        name = provider_name(cluster)
        status, body = await self._call("DELETE", f"/clusters/{name}")
        if status in (200, 404):
            return True
        raise DriverError(f"the emulator refused to delete cluster {name}: HTTP {status} {_error(body)}")

    async def connect(self, cluster: cluster_pb2.Cluster) -> Connection | None:
        # An emulator restarted without its state no longer has the cluster: answering None
        # makes the reconciler provision it again instead of probing a cluster that is gone.
        # An emulator that does not answer at all is left to the probe (Unreachable).
        with contextlib.suppress(DriverError):
            status, _ = await self._call("GET", f"/clusters/{provider_name(cluster)}")
            if status == 404:
                return None
        return await self._credentials.get(cluster.name, cluster.uid)


def _error(body: Any) -> str:
    return str(body.get("error", "")) if isinstance(body, dict) else ""
