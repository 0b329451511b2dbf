"""What a controller reconciles and what wakes it, declared beside the controller
(controller-runtime's builder: ``For`` / ``Owns`` / ``Watches``).

- ``For``: the resource the controller reconciles. Its names are the keys, its stream wakes
  them (by default not for status-only changes, which the controller writes itself) and its
  ``list_keys`` feeds the periodic resync.
- ``Owns``: resources this controller's resources own (e.g. a Deployment's ClusterClaim). Their
  change events carry the owner's name (``ChangeEvent.owner``, filled by the owning service's
  repository from e.g. ``spec.owner``), so mapping an event to a key needs no read and no RPC.
- ``Watch``: anything else, with a function from an event to keys.

A service's ``service.py`` then only registers: ``runtime.controller(spec, reconciler)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.reconcile.controller import (
    SPEC_AND_LIFECYCLE_CHANGES,
    ListKeys,
    PermanentErrorHandler,
    Watch,
)
from threeport_runtime.reconcile.status import stall_writer

Changes = frozenset[change_event_pb2.ChangeType.ValueType]


@dataclass(frozen=True)
class For:
    """The reconciled resource: ``stream`` events enqueue their own name; ``list_keys`` resyncs.
    ``on_permanent_error`` writes the Stalled condition (``For.resource`` sets it)."""

    stream: str
    list_keys: ListKeys
    changes: Changes | None = SPEC_AND_LIFECYCLE_CHANGES
    on_permanent_error: PermanentErrorHandler | None = None

    @classmethod
    def resource(
        cls, repository: ResourceRepository[Any, Any], changes: Changes | None = SPEC_AND_LIFECYCLE_CHANGES
    ) -> For:
        """A resource this service stores: resynced from its table, stalled through its status."""
        return cls(repository.stream, repository.iter_names, changes, stall_writer(repository))


def owner_matches(pattern: str, owner: str) -> bool:
    """Whether a resource name matches ``pattern``, segment by segment, ``*`` matching any one
    segment: ``projects/*/deployments/*`` matches ``projects/acme/deployments/shop``."""
    wanted, actual = pattern.split("/"), owner.split("/")
    return len(wanted) == len(actual) and all(w in ("*", a) for w, a in zip(wanted, actual, strict=True))


@dataclass(frozen=True)
class Owns:
    """Owned resources on ``stream``: an event enqueues its ``owner`` when that matches ``owner``
    (a name pattern, see ``owner_matches``), so owned resources of other owners are ignored."""

    stream: str
    owner: str
    changes: Changes | None = None

    async def keys(self, event: change_event_pb2.ChangeEvent) -> list[str]:
        return [event.owner] if event.owner and owner_matches(self.owner, event.owner) else []

    def watch(self) -> Watch:
        return Watch(self.stream, keys=self.keys, changes=self.changes)


@dataclass(frozen=True)
class ControllerSpec:
    """A controller's name (its consumer group and lease namespace) and what wakes it."""

    name: str
    for_: For
    owns: Sequence[Owns] = ()
    watches: Sequence[Watch] = ()

    def all_watches(self) -> list[Watch]:
        return [
            Watch(self.for_.stream, changes=self.for_.changes),
            *(owned.watch() for owned in self.owns),
            *self.watches,
        ]
