"""A YAML loader for manifests that refuses what a person did not mean or a file must not do.

- A key given twice in one mapping is an error (PyYAML keeps the last silently, so a typo'd
  second `env:` would drop the first without a word).
- Aliases are bounded: a document whose aliases would expand to more than
  ``MAX_EXPANDED_NODES`` nodes is refused before anything is built, so a "billion laughs"
  file fails at once instead of eating gigabytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_EXPANDED_NODES = 200_000


class StrictLoader(yaml.SafeLoader):
    def construct_document(self, node: Node) -> Any:
        _check_expansion(node)
        return super().construct_document(node)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key; the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"the key {key!r} appears twice (first on line {seen[key].line + 1})", key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load_all(text: str) -> Iterator[Any]:
    """Every document in ``text``, read with ``StrictLoader``."""
    return yaml.load_all(text, Loader=StrictLoader)


def _check_expansion(root: Node) -> None:
    """Counts the nodes the document would have with every alias expanded, without expanding."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:  # a recursive structure: it would expand forever
            raise yaml.constructor.ConstructorError(None, None, "a recursive alias cannot be expanded", node.start_mark)
        in_progress.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        in_progress.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"aliases expand this document to more than {MAX_EXPANDED_NODES} values; "
                "write it out without so many aliases", node.start_mark,
            )
        return total

    size(root)
