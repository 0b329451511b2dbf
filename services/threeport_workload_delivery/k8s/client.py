"""A thin wrapper over the official asyncio ``kubernetes`` client for the few REST operations
delivery needs on any kind: server-side apply, get, list by label, delete.

Objects are plain dicts: rendered manifests go out as ``application/apply-patch+yaml`` (JSON is
valid YAML) with field manager ``threeport`` and ``force``, because Threeport owns these fields
and must win over hand edits (that is what drift correction means).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes.aio import client as kube

from threeport.clusters.v1alpha1 import cluster_credentials_pb2
from threeport_workload_delivery.domain.names import FIELD_MANAGER

Manifest = dict[str, Any]

# kind -> (plural, namespaced); the kinds delivery renders, prunes or inspects.
KINDS: dict[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "ServiceAccount": ("serviceaccounts", True),
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "Service": ("services", True),
    "Pod": ("pods", True),
    "Deployment": ("deployments", True),
    "StatefulSet": ("statefulsets", True),
}
# What pruning and deletion look for, workloads first so Pods stop before their config goes.
PRUNABLE: tuple[tuple[str, str], ...] = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
)


class KubeError(Exception):
    """A call to a cluster failed; the message is safe to show (no credentials)."""

    def __init__(self, message: str, status: int = 0, unreachable: bool = False):
        super().__init__(message)
        self.status = status
        self.unreachable = unreachable


def collection_path(api_version: str, kind: str, namespace: str = "") -> str:
    plural, namespaced = KINDS[kind]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if namespaced and namespace:
        return f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{prefix}/{plural}"


def object_path(manifest: Manifest) -> str:
    metadata = manifest["metadata"]
    base = collection_path(manifest["apiVersion"], manifest["kind"], metadata.get("namespace", ""))
    return f"{base}/{metadata['name']}"


@dataclass
class KubeClient:
    """One cluster's API, for as long as its credentials are valid."""

    server: str
    api: kube.ApiClient
    directory: str = ""
    call_timeout: float = 10.0

    @classmethod
    def connect(cls, credentials: cluster_credentials_pb2.ClusterCredentials, call_timeout: float = 10.0) -> KubeClient:
        configuration = kube.Configuration(host=credentials.server)
        configuration.retries = None  # The controller's backoff decides about retries.
        if credentials.token:
            configuration.api_key = {"BearerToken": credentials.token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        if credentials.certificate_authority_data:
            configuration.ca_cert_data = credentials.certificate_authority_data.decode()
        configuration.verify_ssl = not credentials.insecure_skip_tls_verify
        directory = ""
        if credentials.client_certificate_data:
            # The ssl module reads client certificates only from files.
            directory = tempfile.mkdtemp(prefix="tp-delivery-")
            configuration.cert_file = _private_file(directory, "client.crt", credentials.client_certificate_data)
            configuration.key_file = _private_file(directory, "client.key", credentials.client_key_data)
        return cls(credentials.server, kube.ApiClient(configuration), directory, call_timeout)

    async def close(self) -> None:
        closer: Any = self.api.close
        await closer()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        try:
            serialized = await self.api.param_serialize(
                method,
                path,
                query_params=query or [],
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
            )
            response = await asyncio.wait_for(
                self.api.call_api(*serialized, _request_timeout=self.call_timeout), self.call_timeout
            )
            reader: Any = response.read
            raw = await reader()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            detail = type(error).__name__ if isinstance(error, asyncio.TimeoutError) else str(error)
            raise KubeError(f"cannot reach {self.server}: {detail or 'timed out'}", unreachable=True) from None
        data = json.loads(raw) if raw else None
        return int(response.status), data

    def _fail(self, what: str, status: int, data: Any) -> KubeError:
        message = data.get("message", "") if isinstance(data, dict) else ""
        return KubeError(f"{what}: {self.server} answered {status} {message}".rstrip(), status=status)

    async def apply(self, manifest: Manifest) -> Manifest:
        status, data = await self._call(
            "PATCH",
            object_path(manifest),
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=manifest,
            content_type="application/apply-patch+yaml",
        )
        if status >= 400:
            raise self._fail(f"applying {manifest['kind']} {manifest['metadata']['name']}", status, data)
        result: Manifest = data
        return result

    async def get(self, manifest: Manifest) -> Manifest | None:
        status, data = await self._call("GET", object_path(manifest))
        if status == 404:
            return None
        if status >= 400:
            raise self._fail(f"reading {manifest['kind']} {manifest['metadata']['name']}", status, data)
        result: Manifest = data
        return result

    async def list(self, api_version: str, kind: str, selector: str, namespace: str = "") -> list[Manifest]:
        items: list[Manifest] = []
        cont = ""
        while True:
            query = [("labelSelector", selector), ("limit", "500")]
            if cont:
                query.append(("continue", cont))
            status, data = await self._call("GET", collection_path(api_version, kind, namespace), query=query)
            if status == 404:
                return items
            if status >= 400:
                raise self._fail(f"listing {kind}", status, data)
            for item in data.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            cont = (data.get("metadata") or {}).get("continue") or ""
            if not cont:
                return items

    async def delete(self, manifest: Manifest) -> bool:
        """Deletes (background propagation); False when it was already gone."""
        status, data = await self._call(
            "DELETE", object_path(manifest), body={"kind": "DeleteOptions", "apiVersion": "v1",
                                                   "propagationPolicy": "Background"}
        )
        if status == 404:
            return False
        if status >= 400:
            raise self._fail(f"deleting {manifest['kind']} {manifest['metadata']['name']}", status, data)
        return True


def _private_file(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path
