"""Why the next release is made, carried from an action (deploy, build, promotion, rollback) to
the reconciler in the deployment's annotations, written in the same transaction as the spec
change. The reconciler creates releases; actions only describe the change.

- ``delivery.threeport.io/change``: JSON ``{id, reason, message, build, source_release,
  created_by}``; used once: the release made for it records the id.
- ``delivery.threeport.io/config-release``: ``N@G``: after a rollback, render the configuration
  of release N (not the application's live spec) for as long as the application stays at
  generation G. The next change of the application ends the pin.
- ``delivery.threeport.io/build-<component>``: the newest build applied to the component, so
  that a late or repeated event of an older build never rolls back a newer one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass

from threeport.delivery.v1alpha1 import release_pb2

CHANGE = "delivery.threeport.io/change"
CONFIG_RELEASE = "delivery.threeport.io/config-release"
BUILD_PREFIX = "delivery.threeport.io/build-"


@dataclass(frozen=True)
class Change:
    id: str
    reason: str  # a ReleaseReason name
    message: str
    build: str = ""
    source_release: str = ""
    created_by: str = ""

    @property
    def reason_value(self) -> release_pb2.ReleaseReason.ValueType:
        return release_pb2.ReleaseReason.Value(self.reason)


def new_change(reason: release_pb2.ReleaseReason.ValueType, message: str, **extra: str) -> Change:
    return Change(id=uuid.uuid4().hex, reason=release_pb2.ReleaseReason.Name(reason), message=message, **extra)


def write_change(annotations: MutableMapping[str, str], change: Change) -> None:
    annotations[CHANGE] = json.dumps(asdict(change), sort_keys=True)


def read_change(annotations: MutableMapping[str, str] | dict[str, str]) -> Change | None:
    raw = annotations.get(CHANGE, "")
    if not raw:
        return None
    try:
        return Change(**json.loads(raw))
    except (TypeError, ValueError):
        return None


def config_pin(annotations: MutableMapping[str, str] | dict[str, str], application_generation: int) -> int:
    """The release whose configuration is pinned, or 0 when none is (or the pin expired)."""
    raw = annotations.get(CONFIG_RELEASE, "")
    number, _, generation = raw.partition("@")
    if not number.isdigit() or not generation.isdigit() or int(generation) != application_generation:
        return 0
    return int(number)


def build_newer(annotations: MutableMapping[str, str] | dict[str, str], component: str, build: str) -> bool:
    """Build ids sort by report time (``bYYYYMMDDtHHMMSSffffff-xxxxxx``, to the microsecond), so
    newer compares greater."""
    return build.rsplit("/", 1)[-1] > annotations.get(BUILD_PREFIX + component, "").rsplit("/", 1)[-1]
