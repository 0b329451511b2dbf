"""Server-side apply (field manager ``threeport``) of the onboarding objects.

Apply is idempotent and declarative: re-applying on every reconcile recreates anything a
person deleted and restores fields they changed, without a read-compare-write race.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes.aio import client as kube

from threeport_cluster_manager.domain.connection import Connection
from threeport_cluster_manager.domain.onboarding import FIELD_MANAGER, api_path
from threeport_cluster_manager.kube.client import api_client, classify


async def apply_all(connection: Connection, manifests: list[dict[str, Any]], call_timeout: float) -> None:
    """Applies each manifest in order; raises KubeFailure naming the object that failed."""
    async with api_client(connection) as api:
        for manifest in manifests:
            try:
                serialized = await api.param_serialize(
                    "PATCH",
                    api_path(manifest),
                    query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
                    header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
                    body=manifest,
                    auth_settings=["BearerToken"],
                )
                response = await asyncio.wait_for(
                    api.call_api(*serialized, _request_timeout=call_timeout), call_timeout
                )
                reader: Any = response.read
                await reader()
                if response.status >= 400:
                    raise kube.ApiException(status=response.status, reason=response.reason)
            except Exception as error:
                failure = classify(error, connection.server)
                raise type(failure)(
                    failure.kind, f"applying {manifest['kind']} {manifest['metadata']['name']}: {failure}"
                ) from None
