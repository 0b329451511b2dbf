"""The kinds of a release's stored objects (``pipeline.live.release_kinds``): every reconcile asks
for those of every release of its deployment, so each distinct set of manifests is parsed once,
and other text is never answered from what was parsed before."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from threeport_workload_delivery.pipeline import live

SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
WIDGET = "apiVersion: x.io/v1\nkind: Widget\nmetadata: {name: w}\n"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The YAML texts parsed, in order."""
    seen: list[str] = []
    real = yaml.safe_load

    def counting(text: Any) -> Any:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(live.yaml, "safe_load", counting)
    monkeypatch.setattr(live, "_release_kinds", type(live._release_kinds)())
    return seen


def test_a_release_is_parsed_once(parses: list[str]) -> None:
    manifests = [SERVICE, DEPLOYMENT, "null\n"]
    expected = {("v1", "Service"), ("apps/v1", "Deployment")}
    assert live.release_kinds(manifests) == expected
    assert len(parses) == 3
    for _ in range(3):  # steady reconciles
        assert live.release_kinds(list(manifests)) == expected
    assert len(parses) == 3


def test_other_manifests_are_parsed_not_served_from_before(parses: list[str]) -> None:
    assert live.release_kinds([SERVICE]) == {("v1", "Service")}
    assert live.release_kinds([WIDGET]) == {("x.io/v1", "Widget")}
    assert live.release_kinds([SERVICE.replace("v1", "v2")]) == {("v2", "Service")}
    assert len(parses) == 3
    # The same characters split into other manifests are other manifests.
    live.release_kinds(["a", "bc"])
    live.release_kinds(["ab", "c"])
    assert parses[3:] == ["a", "bc", "ab", "c"]


def test_callers_may_change_what_they_get(parses: list[str]) -> None:
    kinds = live.release_kinds([SERVICE])
    kinds.add(("x.io/v1", "Widget"))
    assert live.release_kinds([SERVICE]) == {("v1", "Service")}


def test_the_remembered_releases_are_bounded(parses: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "RELEASE_KINDS_CAPACITY", 2)
    for name in ("a", "b", "c"):
        live.release_kinds([SERVICE.replace("web", name)])
    assert len(live._release_kinds) == 2
    live.release_kinds([SERVICE.replace("web", "a")])  # the oldest went
    assert len(parses) == 4
