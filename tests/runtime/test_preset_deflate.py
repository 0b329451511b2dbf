"""Texts deflated against the first of their sort (``threeport_runtime.preset_deflate``): whatever
goes in comes out equal, a text like the first costs a fraction of itself, and the dictionary,
once taken, never changes (every earlier text stays readable)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from threeport_runtime.preset_deflate import DICTIONARY_MAX, PresetDeflate


def resource(index: int) -> bytes:
    cluster = f"clusters/bench-{index % 100:03d}"
    return orjson.dumps({
        "name": f"projects/bench/deployments/shop-{index:05d}",
        "labels": {"team": "bench"},
        "spec": {"application": f"projects/bench/applications/shop-{index:05d}",
                 "environment": "projects/bench/environments/prod"},
        "status": {"cluster": cluster, "conditions": [
            {"type": "Ready", "status": "True", "reason": "AsExpected", "message": "all 2 components are available"},
            {"type": "Placed", "status": "True", "reason": "Placed", "message": f"on {cluster}"},
        ]},
    })


def test_texts_like_the_first_come_back_equal_and_small() -> None:
    deflate = PresetDeflate()
    texts = [resource(index) for index in range(50)]
    packed = [deflate.deflate(text) for text in texts]
    assert [deflate.inflate(data) for data in packed] == texts
    for text, data in zip(texts[1:], packed[1:], strict=True):
        assert len(data) * 4 < len(text)


def test_the_dictionary_is_the_first_text_and_never_changes() -> None:
    deflate = PresetDeflate()
    first = deflate.deflate(resource(1))
    unlike = b"\x00\xff" * (2 * DICTIONARY_MAX)
    packed_unlike = deflate.deflate(unlike)
    later = deflate.deflate(resource(2))
    assert deflate.inflate(first) == resource(1)
    assert deflate.inflate(packed_unlike) == unlike
    assert deflate.inflate(later) == resource(2)
    assert len(later) * 4 < len(resource(2))  # still packed against the first, not the unlike one


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=3 * DICTIONARY_MAX), min_size=1, max_size=5))
def test_any_bytes_round_trip(texts: list[bytes]) -> None:
    deflate = PresetDeflate()
    packed = [deflate.deflate(text) for text in texts]
    assert [deflate.inflate(data) for data in packed] == texts
