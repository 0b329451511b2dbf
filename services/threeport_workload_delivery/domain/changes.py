"""Why the next release is made, carried from an action (deploy, build, promotion, rollback) to
the reconciler in the deployment's annotations, written in the same transaction as the spec
change. The reconciler creates releases; actions only describe the change. These annotations
(``delivery.threeport.io/*``, with ``domain.images``' record) survive a user's update that
leaves them out (``keep_owned``).

- ``delivery.threeport.io/change``: JSON ``{id, reason, message, build, source_release,
  created_by}``; used once: the release made for it records the id.
- ``delivery.threeport.io/config-release``: ``N@G``: after a rollback, render the configuration
  of release N (not the application's live spec) for as long as the application stays at
  generation G. The next change of the application ends the pin.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass

from threeport.delivery.v1alpha1 import release_pb2

OWNED_PREFIX = "delivery.threeport.io/"
CHANGE = "delivery.threeport.io/change"
CONFIG_RELEASE = "delivery.threeport.io/config-release"


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


def keep_owned(existing: Mapping[str, str], requested: MutableMapping[str, str]) -> None:
    """Carries workload-delivery's own annotations over into a user's update that leaves them
    out, so that re-applying a Deployment manifest (which replaces all annotations) does not
    forget a promotion, a rollback or an unused change note. A user may still set them."""
    for key, value in existing.items():
        if key.startswith(OWNED_PREFIX) and key not in requested:
            requested[key] = value
