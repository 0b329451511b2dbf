"""Helpers for the emulator's tests: client construction, polling waits, manifest builders."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client, config

from threeport_kubesim.testing import EmulatorHandle

MAIN = "main"
T = TypeVar("T")


def make_api_client(handle: EmulatorHandle, cluster: str = MAIN) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=handle.kubeconfig(cluster), client_configuration=configuration)
    return client.ApiClient(configuration)


def wait_for(
    probe: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll until `probe` returns something truthy; fail with `what` after a generous timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except client.ApiException as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def deployment(
    name: str,
    image: str = "nginx:1.27",
    replicas: int = 2,
    labels: dict[str, str] | None = None,
    progress_deadline: int | None = None,
) -> dict[str, Any]:
    labels = labels or {"app": name}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "main", "image": image, "ports": [{"containerPort": 80}]}]},
        },
    }
    if progress_deadline is not None:
        spec["progressDeadlineSeconds"] = progress_deadline
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }
