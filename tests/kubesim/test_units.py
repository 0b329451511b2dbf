"""Unit tests of the emulator's pure building blocks: selector parsing, patch algorithms, field
sets, the store's collapsed watch history and its journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from threeport_kubesim.errors import ApiError
from threeport_kubesim.fieldmanager import flatten, from_fields_v1, to_fields_v1
from threeport_kubesim.journal import ClusterJournal, replay
from threeport_kubesim.patching import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from threeport_kubesim.resources import ResourceRegistry
from threeport_kubesim.selectors import parse_label_selector, selector_from_label_selector_object
from threeport_kubesim.store import ObjectStore

REGISTRY = ResourceRegistry()
DEPLOYMENTS = REGISTRY.lookup("apps", "v1", "deployments")
SERVICES = REGISTRY.lookup("", "v1", "services")
assert DEPLOYMENTS is not None and SERVICES is not None


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier", {"app": "web"}, False),
        ("app in (web, api),!legacy", {"app": "api"}, True),
        ("app notin (web)", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("gen>3", {"gen": "4"}, True),
    ],
)
def test_label_selector_syntax(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is expected


def test_label_selector_rejects_garbage() -> None:
    with pytest.raises(ApiError) as error:
        parse_label_selector("app in (web")
    assert error.value.code == 400


def test_label_selector_object_with_expressions() -> None:
    selector = selector_from_label_selector_object(
        {
            "matchLabels": {"app": "x"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}],
        }
    )
    assert selector.matches({"app": "x", "tier": "web"}) and not selector.matches({"app": "x", "tier": "db"})


def test_merge_patch_removes_with_null_and_replaces_lists() -> None:
    assert apply_merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None}, "l": [3]}) == {
        "a": {"c": 2},
        "l": [3],
    }


def test_json_patch_move_and_copy() -> None:
    doc = {"metadata": {"name": "x"}, "a": {"b": 1}}
    result = apply_json_patch(
        doc, [{"op": "copy", "from": "/a/b", "path": "/c"}, {"op": "move", "from": "/a", "path": "/d"}]
    )
    assert result == {"metadata": {"name": "x"}, "c": 1, "d": {"b": 1}}
    assert doc == {"metadata": {"name": "x"}, "a": {"b": 1}}


def test_strategic_merge_patch_directives() -> None:
    assert DEPLOYMENTS is not None and SERVICES is not None
    live = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                        {"name": "b", "image": "b:1"},
                    ]
                }
            }
        },
        "metadata": {"finalizers": ["one"]},
    }
    patch = {
        "metadata": {"finalizers": ["two"]},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                    "containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}],
                }
            }
        },
    }
    result = apply_strategic_merge_patch(DEPLOYMENTS, live, patch)
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["b", "a"]
    assert [e["name"] for e in containers[1]["env"]] == ["X", "Y"]
    assert result["metadata"]["finalizers"] == ["one", "two"]
    service = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    merged = apply_strategic_merge_patch(SERVICES, service, {"spec": {"ports": [{"port": 443, "name": "tls"}]}})
    assert merged["spec"]["ports"] == [{"port": 80, "name": "http"}, {"port": 443, "name": "tls"}]
    replaced = apply_strategic_merge_patch(SERVICES, service, {"spec": {"$retainKeys": ["type"], "type": "X"}})
    assert replaced["spec"] == {"type": "X"}


def test_field_sets_round_trip_through_fields_v1() -> None:
    assert DEPLOYMENTS is not None
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "labels": {"app": "x"}, "uid": "u"},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "status": {"replicas": 1},
    }
    paths = set(flatten(DEPLOYMENTS, obj))
    assert ("f:spec", "f:replicas") in paths
    assert ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"c"}', ".") in paths
    assert not any(p[0] == "f:status" for p in paths)
    assert not any("f:uid" in p for p in paths)
    assert from_fields_v1(to_fields_v1(paths)) == paths


def test_store_history_collapses_to_latest_versions() -> None:
    store = ObjectStore(history_size=10)
    key = ("", "configmaps")
    first = {"metadata": {"name": "a", "namespace": "n"}}
    store.write(key, first, None)
    since = store.rv
    second = {"metadata": {"name": "a", "namespace": "n"}, "data": {"v": "2"}}
    store.write(key, second, first)
    third = {"metadata": {"name": "a", "namespace": "n"}, "data": {"v": "3"}}
    store.write(key, third, second)
    changes = store.changes_since(key, since, None)
    assert [(t, o["data"]["v"]) for t, _, o in changes] == [("MODIFIED", "3")]
    for index in range(12):
        store.write(key, {"metadata": {"name": f"n{index}", "namespace": "n"}}, None)
    assert store.oldest_resumable_rv > since


def _config_map(name: str, value: str) -> dict[str, Any]:
    metadata = {"name": name, "namespace": "ns"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": value}}


def test_journal_replays_changes_compacts_and_drops_a_torn_last_line(tmp_path: Path) -> None:
    config_maps = ("", "configmaps")
    store = ObjectStore()
    journal = ClusterJournal(tmp_path, store)
    store.journal = journal
    first = _config_map("a", "1")
    store.write(config_maps, first, None)
    store.write(config_maps, _config_map("gone", "x"), None)
    journal.compact()
    compacted_at = store.rv
    store.write(config_maps, _config_map("a", "2"), first)
    gone = store.get_object(config_maps, "ns", "gone")
    assert gone is not None
    store.remove(config_maps, gone)
    journal.close()
    with (tmp_path / "journal").open("ab") as torn:
        torn.write(b'{"rv":99,"type":"ADDED","gr":"/configmaps","object":{"meta')

    state = replay(tmp_path)
    assert state.rv == store.rv and state.resumable_from == compacted_at
    assert {key: obj["data"] for key, obj in state.objects[config_maps].items()} == {("ns", "a"): {"k": "2"}}
    assert [(entry.rv, entry.event_type, entry.key) for entry in state.history] == [
        (compacted_at + 1, "MODIFIED", ("ns", "a")),
        (compacted_at + 2, "DELETED", ("ns", "gone")),
    ]
    assert (tmp_path / "journal").read_bytes().endswith(b"\n")
