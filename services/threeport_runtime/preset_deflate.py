"""Small byte strings kept deflated against texts of their sort seen before (zlib's preset ``zdict``).

Caches hold many texts of one sort that share most of their bytes: a cluster's objects of one
kind (their keys, Threeport's labels, the defaults an API server fills in), a service's
resources of one type (field tags, condition types and reasons, the project's names). Deflate
with a preset dictionary compresses each against text of its sort already seen, so a small text
costs what is particular to it: a serialized Deployment of the scale benchmark, 811 bytes, is
~160 bytes deflated against another (~10 us to deflate, a few to inflate).

The dictionary starts as the first text deflated. A text that still deflates to more than a
third of its size is unlike what the dictionary holds (texts like it deflate to a fifth or less;
a cache's first Deployment was one just created, 143 bytes, and a Ready one of 1.1 KB deflated
to 612 against it), and with ``grows`` it is added to the dictionary, while that is under
``DICTIONARY_MAX`` bytes. It is added at the **front**: raw deflate refers to the dictionary by
distance back from the text's start, so what earlier texts used, the dictionary's end, never
moves, and every text deflated before still inflates. A dictionary that grows packs the same
text differently before and after; a cache that compares packed texts to tell a change (the
watch cache) keeps its first dictionary (``grows=False``).
"""

from __future__ import annotations

import zlib

# The dictionary's most: the first text's start, and what later texts may grow it to (a deflate
# costs ~17 us more against 16 KB than against 1 KB: zlib hashes the whole dictionary each time;
# a few texts of a sort are enough).
DICTIONARY_MAX = 4 * 1024
# Raw deflate (no zlib header or checksum: 6 bytes less per text; a cache's own text needs
# neither) with an 8 KB window, enough for the dictionary and a text of a few KB.
WINDOW_BITS = -13
# zlib's defaults (a 32 KB window, memLevel 8) allocate ~260 KB per compressor: freed at the top
# of glibc's heap, that was given back and taken again on each deflate (52.7 us against 6.2 with
# these, in a fresh process; the same bytes out for texts of a few KB).
MEM_LEVEL = 5
LEVEL = 1  # level 6 saves 4% more for 30% more time
# A text that deflates to more than this share of itself is unlike the dictionary.
UNLIKE = 1 / 3


class PresetDeflate:
    """Deflates and inflates texts of one sort against a dictionary of texts it deflated before."""

    __slots__ = ("_dictionary", "_grows")

    def __init__(self, *, grows: bool = True, dictionary: bytes = b"") -> None:
        self._dictionary = dictionary[-DICTIONARY_MAX:]
        self._grows = grows

    @property
    def dictionary(self) -> bytes:
        return self._dictionary

    def deflate(self, text: bytes) -> bytes:
        if not self._dictionary:
            # A copy of the start: a whole ``bytes`` may hold a larger buffer (orjson's ~8 KB).
            self._dictionary = memoryview(text)[:DICTIONARY_MAX].tobytes()
        deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, WINDOW_BITS, MEM_LEVEL, zdict=self._dictionary)
        packed = deflate.compress(text) + deflate.flush()
        room = DICTIONARY_MAX - len(self._dictionary)
        if self._grows and room > 0 and len(packed) > UNLIKE * len(text):
            self._dictionary = memoryview(text)[:room].tobytes() + self._dictionary
        return packed

    def inflate(self, packed: bytes) -> bytes:
        # Empty until something was deflated: the text was deflated against nothing.
        inflate = zlib.decompressobj(WINDOW_BITS, zdict=self._dictionary)
        return inflate.decompress(packed) + inflate.flush()
