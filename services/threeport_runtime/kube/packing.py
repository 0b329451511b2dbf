"""How a watch-fed cache keeps one kind's objects small: JSON deflated with a preset dictionary
(``preset_deflate``).

The objects of one kind in one cluster share most of their text: the keys, the labels Threeport
puts on everything, the defaults the API server fills in. Deflate with a preset dictionary
(zlib's ``zdict``) compresses each object against text of its kind it has already seen, so a
small object costs what is particular to it. The dictionary starts as the first object of the
kind packed here; a cache compares packed texts to tell a change, so it changes only when the
cache packs every object it holds again with it (``reseed``).

The first object of a kind in a new cluster is usually one just created: a Deployment or a Pod
without the status every later one has, so each later one paid for its status and conditions
(Deployments 394 bytes packed, Pods 324, at 2,000 / 100). When the kind reaches
``RESEED_AT`` objects, the packer picks, among the objects it holds, the one that packs a sample
of them smallest when added to the dictionary, and the cache packs them again against it:
Deployments then cost ~210-250 bytes and Pods ~170-190 (the watch caches hold ~11 objects per
deployment; ~1 KB less per deployment). A reseed at 64 objects costs a few milliseconds, twice
per kind and cluster.

Measured on the objects delivery caches for a two-component app (Deployments, Pods, Services,
ConfigMaps, ServiceAccounts, Namespaces; 1.2 KB of JSON on average): deflated alone 530 bytes,
against the first object of the kind 170 bytes. It costs ~20 us to pack (once per watch event)
and ~6 us to unpack (once per read); an object read is a new dict either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from threeport_runtime.preset_deflate import DICTIONARY_MAX, PresetDeflate

Object = dict[str, Any]

# How many objects of its kind a cache holds when it chooses the dictionary again: once early (a
# few objects have settled), once when most of a cluster's share usually has.
RESEED_AT = (16, 64)
# A choice looks at this many of the largest packed objects, each judged by how small it packs
# this many of the objects (evenly spaced): ~4 ms.
CANDIDATES = 6
SAMPLE = 24
# A new dictionary must pack the sample at least this much smaller to be worth packing again.
WORTH = 0.9


class KindPacker:
    """Packs and unpacks the objects of one kind; its dictionary is the first object it packed,
    and what ``reseed`` adds to it."""

    __slots__ = ("_deflate", "_reseeds")

    def __init__(self) -> None:
        self._deflate = PresetDeflate(grows=False)
        self._reseeds = 0

    def reseed_due(self, held: int) -> bool:
        """Whether a cache holding ``held`` objects of the kind should ``reseed`` now."""
        return self._reseeds < len(RESEED_AT) and held >= RESEED_AT[self._reseeds]

    def reseed(self, packed: Sequence[bytes]) -> list[bytes] | None:
        """Adds to the dictionary the one of the objects packed as ``packed`` (every object of the
        kind the cache holds) that packs a sample of them smallest, if that is ``WORTH`` it against
        the current dictionary. Returns them all packed against the new dictionary, in order
        (the caller replaces every packed text it holds with these), or None when it kept it."""
        held = len(packed)
        self._reseeds = sum(held >= milestone for milestone in RESEED_AT)  # each milestone passed is done
        texts = [self._deflate.inflate(data) for data in packed]
        sample = texts[:: max(1, len(texts) // SAMPLE)][:SAMPLE]
        current = self._deflate.dictionary
        largest = sorted(range(held), key=lambda index: len(packed[index]), reverse=True)
        best, best_size = current, _packed_size(current, sample) * WORTH
        for index in [index for index in largest if len(texts[index]) <= DICTIONARY_MAX][:CANDIDATES]:
            # Added at the end, where deflate reaches it most cheaply; the oldest text goes first.
            candidate = (current + texts[index])[-DICTIONARY_MAX:]
            if (size := _packed_size(candidate, sample)) < best_size:
                best, best_size = candidate, size
        if best is current:
            return None
        self._deflate = PresetDeflate(grows=False, dictionary=best)
        return [self._deflate.deflate(text) for text in texts]

    def pack(self, obj: Object) -> bytes:
        return self._deflate.deflate(orjson.dumps(obj))

    def unpack(self, packed: bytes) -> Object:
        loaded: Object = orjson.loads(self._deflate.inflate(packed))
        return loaded


def _packed_size(dictionary: bytes, texts: Sequence[bytes]) -> int:
    deflate = PresetDeflate(grows=False, dictionary=dictionary)
    return sum(len(deflate.deflate(text)) for text in texts)
