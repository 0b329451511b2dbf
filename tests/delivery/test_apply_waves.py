"""A deployment's objects are applied in waves (``domain.apply_order``), each wave's at once:
config and services together, then the workloads together, never a workload before its config.
Serially, one request after another, applying was the largest single part of a create -> Ready
(issue 14)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from threeport_runtime.kube.client import KubeClient
from threeport_workload_delivery.domain.apply_order import apply_waves
from threeport_workload_delivery.domain.rollout import WORKLOAD_KINDS

from .conftest import PARENT, PROJECT, Stack

APP = "pair"
DEV = f"{PARENT}/deployments/{APP}-dev"
NAMESPACE = f"{PROJECT}-{APP}-dev"
PAIR: dict[str, Any] = {
    "components": {
        name: {"image": f"registry.example.com/pair/{name}:1.0.0", "ports": [{"name": "http", "port": 8080}],
               "env": {"MODE": name}}
        for name in ("api", "web")
    }
}


class Applies:
    """Every apply into the app's namespace: when it started and ended, and how many were in
    flight at once (the real apply runs; this only watches)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []  # ("start" | "end", kind)
        self.in_flight = 0
        self.most_in_flight = 0


@pytest.fixture
def applies(monkeypatch: pytest.MonkeyPatch) -> Applies:
    seen = Applies()
    real = KubeClient.apply

    async def watched(self: KubeClient, manifest: Mapping[str, Any], *, force: bool = True) -> Any:
        if manifest.get("metadata", {}).get("namespace") != NAMESPACE:
            return await real(self, manifest, force=force)
        seen.log.append(("start", manifest["kind"]))
        seen.in_flight += 1
        seen.most_in_flight = max(seen.most_in_flight, seen.in_flight)
        try:
            await asyncio.sleep(0)  # let the others of its wave start, if they were started
            return await real(self, manifest, force=force)
        finally:
            seen.in_flight -= 1
            seen.log.append(("end", manifest["kind"]))

    monkeypatch.setattr(KubeClient, "apply", watched)
    return seen


async def test_config_is_applied_at_once_then_the_workloads_at_once(stack: Stack, applies: Applies) -> None:
    await stack.apply_application(APP, PAIR)
    await stack.deployer.deployment.deploy(parent=PARENT, application=APP, environment="dev")
    await stack.ready(DEV)

    # The first pass ends when its two Deployments (the last wave) have been applied. A later
    # pass may apply again before Ready (on a busy machine one can run before the watch cache
    # has seen the first pass's objects); that is idempotent and not what this test is about.
    workload_ends = [i for i, (event, kind) in enumerate(applies.log) if event == "end" and kind == "Deployment"]
    first_pass = applies.log[: workload_ends[1] + 1]
    kinds = [kind for event, kind in first_pass if event == "start"]
    assert kinds.count("Deployment") == 2 and "Service" in kinds and "ConfigMap" in kinds
    assert applies.most_in_flight >= 2
    # No workload apply started before every other apply of the pass had ended.
    first_workload = next(i for i, (event, kind) in enumerate(first_pass) if kind in WORKLOAD_KINDS)
    config_ends = [i for i, (event, kind) in enumerate(first_pass) if event == "end" and kind not in WORKLOAD_KINDS]
    assert config_ends and max(config_ends) < first_workload


def test_waves_put_what_others_need_first_and_keep_the_rendered_order() -> None:
    def obj(kind: str, name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}

    rendered = [obj("Namespace", "ns"), obj("ConfigMap", "a"), obj("Deployment", "a"), obj("Service", "a"),
                obj("Widget", "w"), obj("CustomResourceDefinition", "widgets"), obj("StatefulSet", "b"),
                obj("ConfigMap", "b"), obj("HorizontalPodAutoscaler", "a")]
    waves = [[(o["kind"], o["metadata"]["name"]) for o in wave] for wave in apply_waves(rendered)]
    assert waves == [
        [("Namespace", "ns"), ("CustomResourceDefinition", "widgets")],
        [("ConfigMap", "a"), ("Service", "a"), ("Widget", "w"), ("ConfigMap", "b"), ("HorizontalPodAutoscaler", "a")],
        [("Deployment", "a"), ("StatefulSet", "b")],
    ]
    assert apply_waves([obj("Service", "only")]) == [[obj("Service", "only")]]
