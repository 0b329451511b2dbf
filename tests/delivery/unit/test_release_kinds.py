"""The kinds of a release's objects are parsed from its YAML once per content, not on every
reconcile: every reconcile asks for the kinds of every release of its deployment (to find what
to prune), and the parse was on the create -> Ready path twice (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from threeport_workload_delivery.pipeline import live

DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
MONITOR = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: web\n"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every YAML document parsed (``yaml.safe_load`` goes through ``yaml.load`` too)."""
    seen: list[str] = []
    real = yaml.load

    def counting(stream: Any, Loader: Any) -> Any:
        seen.append(stream)
        return real(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "load", counting)
    if hasattr(live, "_RELEASE_KINDS"):  # each test starts with nothing remembered
        monkeypatch.setattr(live, "_RELEASE_KINDS", type(live._RELEASE_KINDS)())
    return seen


def test_a_release_s_manifests_are_parsed_once_however_often_its_kinds_are_asked_for(parses: list[str]) -> None:
    manifests = [DEPLOYMENT, SERVICE]
    for _ in range(3):
        assert live.release_kinds(list(manifests)) == {("apps/v1", "Deployment"), ("v1", "Service")}
    assert parses == manifests


def test_different_content_is_never_answered_from_another_release_s_kinds(parses: list[str]) -> None:
    assert live.release_kinds([DEPLOYMENT, SERVICE]) == {("apps/v1", "Deployment"), ("v1", "Service")}
    assert live.release_kinds([DEPLOYMENT, MONITOR]) == {("apps/v1", "Deployment"),
                                                         ("monitoring.coreos.com/v1", "ServiceMonitor")}
    assert live.release_kinds([SERVICE]) == {("v1", "Service")}
    assert len(parses) == 5


def test_the_memo_is_bounded_and_forgets_the_least_recently_used(
    parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "RELEASE_KINDS_CACHED", 2)
    live.release_kinds([DEPLOYMENT])
    live.release_kinds([SERVICE])
    live.release_kinds([DEPLOYMENT])  # used again: SERVICE is now the oldest
    live.release_kinds([MONITOR])
    assert len(live._RELEASE_KINDS) == 2
    parses.clear()
    live.release_kinds([DEPLOYMENT])
    live.release_kinds([SERVICE])
    assert parses == [SERVICE]
