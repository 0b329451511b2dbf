"""Texts deflated against those of their sort seen before (``threeport_runtime.preset_deflate``):
whatever goes in comes out equal, even after the dictionary grew; a text like one seen costs a
fraction of itself; a first text unlike the later ones does not spoil them; and a dictionary
that must not grow never changes."""

from __future__ import annotations

import os

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


def test_a_small_first_text_does_not_spoil_the_later_ones() -> None:
    """A cache's first Deployment was one just created (143 bytes); Ready ones (1.1 KB) deflated
    to 612 bytes against it. An unlike text joins the dictionary, and the next ones like it are
    small; what was deflated before still inflates."""
    deflate = PresetDeflate()
    tiny = deflate.deflate(b'{"name":"projects/bench/deployments/shop-00000"}')
    first_ready = deflate.deflate(resource(1))
    later = [deflate.deflate(resource(index)) for index in range(2, 20)]
    assert len(first_ready) * 3 > len(resource(1))  # unlike the dictionary then
    assert all(len(data) * 4 < len(resource(index)) for index, data in enumerate(later, start=2))
    assert deflate.inflate(tiny) == b'{"name":"projects/bench/deployments/shop-00000"}'
    assert deflate.inflate(first_ready) == resource(1)
    assert [deflate.inflate(data) for data in later] == [resource(index) for index in range(2, 20)]


def test_a_dictionary_stops_growing_at_its_limit() -> None:
    """Each deflate hashes the whole dictionary: texts after the first grow it to 4 KB only, and
    texts unlike it keep growing it until then."""
    deflate = PresetDeflate()
    texts = [bytes([index]) * 16 + os.urandom(200) for index in range(100)]  # each unlike the others
    packed = [deflate.deflate(text) for text in texts]
    assert DICTIONARY_MAX - 216 < len(deflate._dictionary) <= 4 * 1024
    assert [deflate.inflate(data) for data in packed] == texts


def test_a_dictionary_that_must_not_grow_is_the_first_text() -> None:
    """The watch cache tells a changed object by its packed text: the same text must pack the
    same way for as long as the cache lives."""
    deflate = PresetDeflate(grows=False)
    deflate.deflate(b'{"name":"projects/bench/deployments/shop-00000"}')
    before = deflate.deflate(resource(1))
    unlike = b"\x00\xff" * (2 * DICTIONARY_MAX)
    assert deflate.inflate(deflate.deflate(unlike)) == unlike
    assert deflate.deflate(resource(1)) == before
    assert deflate.inflate(before) == resource(1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=3 * DICTIONARY_MAX) | st.sampled_from([resource(1), resource(2)]),
                min_size=1, max_size=8), st.booleans())
def test_any_bytes_round_trip_whenever_they_are_inflated(texts: list[bytes], grows: bool) -> None:
    deflate = PresetDeflate(grows=grows)
    packed = []
    for text in texts:
        packed.append(deflate.deflate(text))
        assert deflate.inflate(packed[-1]) == text
    assert [deflate.inflate(data) for data in packed] == texts  # after every growth
