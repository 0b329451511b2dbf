"""The few Kubernetes operations ``tptctl install`` needs, with the ``kubernetes`` library:
server-side apply, read a Secret, wait for rollouts and Jobs, delete by label.

Deliberately small and separate from the services' Kubernetes layer: it runs on an operator's
machine (or in CI) against whatever cluster the kubeconfig names.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from kubernetes import config as kube_config
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

FIELD_MANAGER = "tptctl-install"
# The kubernetes library has no type hints; these are used through Any.
_new_client: Any = kube_config.new_client_from_config
_dynamic_client: Any = DynamicClient

Progress = Callable[[str], None]


class ClusterError(RuntimeError):
    """A Kubernetes call failed; the message names the object and what the server said."""


class Cluster:
    def __init__(self, kubeconfig: str, context: str | None = None):
        try:
            api = _new_client(config_file=kubeconfig, context=context)
        except (kube_config.ConfigException, OSError) as error:
            raise ClusterError(f"cannot use kubeconfig {kubeconfig}: {error}") from None
        self._api: ApiClient = api
        # The dynamic client caches discovery in a file, by default osrcp-<hash>.json in the
        # system's temporary folder, left there; this folder goes with the object (or at exit).
        self._discovery = tempfile.TemporaryDirectory(prefix="tptctl-discovery-")
        try:
            self._client = _dynamic_client(api, cache_file=os.path.join(self._discovery.name, "discovery.json"))
        except Exception as error:  # discovery: the cluster is not reachable or refuses us
            raise ClusterError(f"cannot reach the cluster of {kubeconfig}: {_reason(error)}") from None

    @property
    def server(self) -> str:
        return str(self._api.configuration.host)

    def _resource(self, api_version: str, kind: str) -> Any:
        try:
            return self._client.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise ClusterError(
                f"the cluster does not serve {kind} ({api_version}); install what provides it "
                "or turn that part of the chart off in the values"
            ) from None

    def apply(self, body: dict[str, Any], namespace: str) -> None:
        resource = self._resource(body["apiVersion"], body["kind"])
        try:
            self._client.server_side_apply(
                resource, body=body, namespace=namespace if resource.namespaced else None,
                field_manager=FIELD_MANAGER, force_conflicts=True,
            )
        except ApiException as error:
            raise ClusterError(f"applying {body['kind']} {body['metadata']['name']}: {_reason(error)}") from None

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        resource = self._resource(api_version, kind)
        try:
            found = self._client.get(resource, name=name, namespace=namespace if resource.namespaced else None)
        except ApiException as error:
            if error.status == 404:
                return None
            raise ClusterError(f"reading {kind} {name}: {_reason(error)}") from None
        result: dict[str, Any] = found.to_dict()
        return result

    def secret_data(self, name: str, namespace: str) -> dict[str, str] | None:
        found = self.get("v1", "Secret", name, namespace)
        if found is None:
            return None
        return {key: base64.b64decode(value).decode() for key, value in (found.get("data") or {}).items()}

    def delete(self, api_version: str, kind: str, name: str, namespace: str) -> bool:
        """Deletes in the background (dependents go too); False when it was not there."""
        resource = self._resource(api_version, kind)
        try:
            self._client.delete(
                resource, name=name, namespace=namespace if resource.namespaced else None,
                body={"propagationPolicy": "Background"},
            )
        except ApiException as error:
            if error.status == 404:
                return False
            raise ClusterError(f"deleting {kind} {name}: {_reason(error)}") from None
        return True

    def delete_labelled(self, api_version: str, kind: str, selector: str, namespace: str) -> list[str]:
        resource = self._resource(api_version, kind)
        found = self._client.get(resource, namespace=namespace, label_selector=selector)
        names = [item.metadata.name for item in found.items]
        for name in names:
            self.delete(api_version, kind, name, namespace)
        return names

    def wait(
        self, api_version: str, kind: str, name: str, namespace: str, *, timeout: float, progress: Progress
    ) -> None:
        """Until a Deployment/StatefulSet has rolled out or a Job completed; ClusterError when a
        Job failed or the time is up."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            found = self.get(api_version, kind, name, namespace)
            state, done = _rollout(kind, found)
            if state != last:
                progress(f"  {kind.lower()} {name}: {state}")
                last = state
            if done:
                return
            if state.startswith("failed"):
                raise ClusterError(f"{kind} {name} {state}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind} {name} is not ready after {timeout:.0f}s ({state})")
            time.sleep(1.0)


def _rollout(kind: str, found: dict[str, Any] | None) -> tuple[str, bool]:
    if found is None:
        return "not found", False
    spec, status = found.get("spec") or {}, found.get("status") or {}
    if kind == "Job":
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        if conditions.get("Complete") == "True":
            return "complete", True
        if conditions.get("Failed") == "True":
            return "failed (see kubectl logs job/...)", False
        return "running", False
    wanted = int(spec.get("replicas", 1) or 0)
    generation_seen = (status.get("observedGeneration") or 0) >= (found["metadata"].get("generation") or 0)
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    if kind == "Deployment":
        ready = int(status.get("availableReplicas") or 0)
    done = generation_seen and ready >= wanted and updated >= wanted
    return f"{ready}/{wanted} ready", done


def _reason(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}: {(error.body or '')[:300]}"
    return str(error)
