"""The kinds of a release's stored objects (``pipeline.live.release_kinds``): every reconcile asks
for those of every release of its deployment, so each distinct set of manifests is parsed once,
and other text is never answered from what was parsed before."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from threeport_workload_delivery.pipeline import live
from threeport_workload_delivery.reconcilers.deployment import manifest_yaml

SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
WIDGET = "apiVersion: x.io/v1\nkind: Widget\nmetadata: {name: w}\n"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The YAML texts parsed, in order."""
    seen: list[str] = []
    real = live._kind_of

    def counting(text: str) -> Any:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(live, "_kind_of", counting)
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


def test_a_release_being_made_is_known_without_parsing_it_back(parses: list[str]) -> None:
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}},
        {"apiVersion": "x.io/v1", "kind": "Widget", "metadata": {"name": "w"}},
    ]
    manifests = [yaml.safe_dump(o, sort_keys=False) for o in objects]
    live.remember_release_kinds(manifests, objects)
    assert live.release_kinds(manifests) == {("v1", "Service"), ("x.io/v1", "Widget")}
    assert parses == []


def test_the_loader_reads_what_the_safe_loader_reads() -> None:
    # libyaml's loader where available: the same documents, and nothing beyond the safe subset.
    text = "a: [1, 2.5, yes, null, '0x10', 2026-12-02]\nb: {c: !!str 3}\n"
    assert yaml.load(text, Loader=live._YAML_LOADER) == yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError):
        yaml.load("!!python/object/apply:os.system ['true']", Loader=live._YAML_LOADER)


# Values a kind or apiVersion could take in a stored manifest, tricky ones included: YAML would
# load some of them as other types (`yes`, `null`, `1.0`), or needs quotes for them.
KIND_TEXT = st.one_of(
    st.sampled_from(["v1", "apps/v1", "Deployment", "yes", "null", "~", "1.0", "0x10", "True", "2026-12-03",
                     "a: b", "- x", "#c", "", " padded ", "multi\nline", "ünïcode"]),
    st.text(max_size=12),
)
OTHER = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(api_version=KIND_TEXT, kind=KIND_TEXT | st.integers() | st.none(),
       others=st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("apiVersion", "kind")), OTHER, max_size=4),
       position=st.integers(min_value=0, max_value=6), kind_first=st.booleans())
def test_the_kind_read_from_parse_events_is_the_kind_the_object_loads_with(
    api_version: str, kind: Any, others: dict[str, Any], position: int, kind_first: bool
) -> None:
    """Whatever the values and wherever the two keys are, reading them from the parser's
    events gives what loading the whole object gives."""
    items = list(others.items())
    pair = [("apiVersion", api_version), ("kind", kind)]
    items[position:position] = reversed(pair) if kind_first else pair
    text = manifest_yaml(dict(items))
    loaded = yaml.safe_load(text)
    assert live._kind_of(text) == (str(loaded["apiVersion"]), str(loaded["kind"]))


def test_documents_that_are_not_objects_have_no_kind() -> None:
    for text in ("null\n", "- a\n- b\n", "just text\n", ""):
        assert live._kind_of(text) is None


def test_a_manifest_as_threeport_writes_it_is_not_loaded_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}}}

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("loaded whole")

    monkeypatch.setattr(live.yaml, "load", refuse)
    assert live._kind_of(manifest_yaml(deployment)) == ("apps/v1", "Deployment")


def test_releases_of_the_same_kinds_share_one_set(parses: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Most releases have the same kinds (one shape of application): they hold one set, not a
    copy each; past ``SHAPES_CAPACITY`` shapes a set is kept as it is."""
    monkeypatch.setattr(live, "_shapes", {})
    monkeypatch.setattr(live, "SHAPES_CAPACITY", 2)
    for name in ("a", "b"):
        live.release_kinds([SERVICE.replace("web", name), DEPLOYMENT.replace("web", name)])
    first, second = live._release_kinds.values()
    assert first is second and first == {("v1", "Service"), ("apps/v1", "Deployment")}
    live.release_kinds([WIDGET])
    live.release_kinds([SERVICE.replace("v1", "v2")])  # a third shape: not remembered as one
    assert len(live._shapes) == 2 and live.release_kinds([SERVICE.replace("v1", "v2")]) == {("v2", "Service")}
