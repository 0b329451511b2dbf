"""domain.diffing: drift is judged on what Threeport declares, and plans show only that."""

from __future__ import annotations

from threeport_workload_delivery.domain import diffing

DESIRED = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "cfg", "namespace": "ns", "labels": {"a": "1"}}, "data": {"K": "v", "PORT": 8080}}


def test_server_defaults_and_stringified_numbers_are_not_drift() -> None:
    live = {**DESIRED, "metadata": {**DESIRED["metadata"], "uid": "u", "resourceVersion": "9"},  # type: ignore[dict-item]
            "data": {"K": "v", "PORT": "8080"}}
    assert diffing.in_sync(live, DESIRED)
    assert not diffing.in_sync(None, DESIRED)
    assert not diffing.in_sync({**live, "data": {"K": "changed", "PORT": "8080"}}, DESIRED)


def test_keys_and_descriptions() -> None:
    assert diffing.object_key(DESIRED) == ("v1", "ConfigMap", "ns", "cfg")
    assert diffing.describe(("v1", "Namespace", "", "ns")) == "Namespace ns"
    assert diffing.describe(diffing.object_key(DESIRED)) == "ConfigMap ns/cfg"


def test_a_unified_diff_shows_the_managed_change_only() -> None:
    live = {**DESIRED, "metadata": {**DESIRED["metadata"], "uid": "u"}, "data": {"K": "old", "PORT": 8080}}  # type: ignore[dict-item]
    diff = diffing.unified_diff(live, DESIRED)
    assert "-  K: old" in diff and "+  K: v" in diff and "uid" not in diff
