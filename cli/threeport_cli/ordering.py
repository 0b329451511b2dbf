"""The order in which one apply writes its Applications: those another depends on first.

The registry refuses an `application` dependency on an application that does not exist yet, so
a folder of Score files (one per workload, with `service` resources naming each other) or of
Application manifests is applied dependencies first, and deleted dependents first. Only the
Applications of the apply move, each into a slot an Application held, so that Environments and
Deployments keep their place. Ties keep the files' order; a cycle is an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


class CycleError(ValueError):
    """The applications depend on each other in a circle; ``cycle`` spells it (a -> b -> a)."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("a dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


def dependencies_first(
    items: Sequence[T],
    name_of: Callable[[T], str | None],
    needs: Callable[[T], set[str]],
) -> list[T]:
    """``items`` with every named item after the named items it ``needs`` (names of others in
    ``items``; names not among them are ignored). ``name_of`` is None for items that stay put."""
    named = {name: item for item in items if (name := name_of(item)) is not None}
    ordered: list[T] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise CycleError([*path[path.index(name):], name])
        state[name] = "visiting"
        # A self-dependency is no ordering question: the registry refuses it with its own words.
        for needed in sorted((needs(named[name]) & named.keys()) - {name}, key=list(named).index):
            visit(needed, [*path, name])
        state[name] = "done"
        ordered.append(named[name])

    for name in named:
        visit(name, [])
    moved = iter(ordered)
    return [next(moved) if name_of(item) is not None else item for item in items]
