"""How the watch-fed cache packs objects (``threeport_runtime.kube.packing``): whatever JSON goes
in comes out equal, and an object like the first of its kind costs a fraction of its text."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from threeport_runtime.kube.packing import RESEED_AT, KindPacker
from threeport_runtime.preset_deflate import DICTIONARY_MAX

LABELS = {
    "app.kubernetes.io/managed-by": "threeport",
    "threeport.io/project": "bench",
    "threeport.io/application": "shop",
    "threeport.io/environment": "dev",
}


def deployment(index: int) -> dict[str, Any]:
    labels = {**LABELS, "threeport.io/deployment": f"shop-{index}", "threeport.io/component": "api"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"shop-{index}-api", "namespace": f"shop-{index}", "labels": labels,
                     "uid": f"71c652fa-b5ae-4ab8-bc8b-{index:012d}", "resourceVersion": str(100 + index),
                     "creationTimestamp": "2026-12-03T04:22:33Z", "generation": 1},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"threeport.io/deployment": f"shop-{index}", "threeport.io/component": "api"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "api", "image": f"registry.example.com/shop/api:{index}",
                                         "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                                         "imagePullPolicy": "IfNotPresent", "resources": {}}],
                         "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                         "terminationGracePeriodSeconds": 30, "securityContext": {}},
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        },
        "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                   "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                   "lastTransitionTime": "2026-12-03T04:22:33Z"}]},
    }


def test_objects_of_a_kind_come_back_equal_and_small() -> None:
    packer = KindPacker()
    objects = [deployment(index) for index in range(20)]
    packed = [packer.pack(obj) for obj in objects]
    assert [packer.unpack(data) for data in packed] == objects
    # Every later object is packed against the first one's text: a fraction of its own text.
    for obj, data in zip(objects[1:], packed[1:], strict=True):
        assert len(data) * 4 < len(orjson.dumps(obj))


def test_the_dictionary_never_changes_so_earlier_packs_stay_readable() -> None:
    packer = KindPacker()
    first = packer.pack(deployment(1))
    unlike = {"kind": "Deployment", "metadata": {"name": "other"}, "data": "x" * (3 * DICTIONARY_MAX)}
    packed_unlike = packer.pack(unlike)
    assert packer.unpack(first) == deployment(1)
    assert packer.unpack(packed_unlike) == unlike
    # Read twice: unpacking changes nothing (a reader may change the dict it got).
    got = packer.unpack(first)
    got["metadata"]["name"] = "changed"
    assert packer.unpack(first) == deployment(1)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=12), JSON, max_size=6), min_size=1, max_size=5))
def test_any_json_object_round_trips(objects: list[dict[str, Any]]) -> None:
    packer = KindPacker()
    packed = [packer.pack(copy.deepcopy(obj)) for obj in objects]
    assert [packer.unpack(data) for data in packed] == objects


def just_created(index: int) -> dict[str, Any]:
    """A Deployment as a cache first sees it: no status yet."""
    created = deployment(index)
    del created["status"]
    return created


def test_a_reseed_packs_every_object_smaller_against_a_settled_one_and_the_same_as_a_new_pack() -> None:
    packer = KindPacker()
    objects = [just_created(0)] + [deployment(index) for index in range(1, RESEED_AT[0])]
    packed = [packer.pack(obj) for obj in objects]
    assert not packer.reseed_due(RESEED_AT[0] - 1) and packer.reseed_due(RESEED_AT[0])

    repacked = packer.reseed(packed)

    assert repacked is not None and [packer.unpack(data) for data in repacked] == objects
    # The settled objects paid for their status against the first one; now they do not.
    assert sum(map(len, repacked[1:])) * 2 < sum(map(len, packed[1:]))
    # Packing is still deterministic: an object packed now is what the cache holds for it, so a
    # re-list tells a change by comparing packed texts.
    assert [packer.pack(obj) for obj in objects] == repacked
    assert not packer.reseed_due(RESEED_AT[1] - 1) and packer.reseed_due(RESEED_AT[1])


def test_a_reseed_that_finds_nothing_better_keeps_the_dictionary_and_each_milestone_comes_once() -> None:
    packer = KindPacker()
    objects = [deployment(index) for index in range(RESEED_AT[1])]  # alike: the first is as good
    packed = [packer.pack(obj) for obj in objects]
    before = [packer.pack(obj) for obj in objects]
    assert packer.reseed_due(len(objects))

    assert packer.reseed(packed) is None
    assert [packer.pack(obj) for obj in objects] == before
    # Both milestones passed at once: no further reseed, however many objects come.
    assert not packer.reseed_due(10 * RESEED_AT[1])
