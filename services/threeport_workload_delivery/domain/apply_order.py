"""In which waves a deployment's objects are applied.

Objects of one wave do not need each other to exist, so they are applied at once; a wave starts
when the one before it was applied. Serially, one request after another, applying a typical
2-component app (8 objects) was the largest single part of a create -> Ready (issue 14); in
three waves it costs about three requests' time.

1. ``Namespace`` and ``CustomResourceDefinition``: what the other objects live in or are
   instances of.
2. Everything else but workloads: service accounts, config, secrets, services, RBAC, custom
   resources, ingresses, autoscalers (which name their workload, and wait for it themselves).
3. Workloads (``rollout.WORKLOAD_KINDS``), so their Pods start with their config in place.

Within a wave the rendered order is kept (for messages and Events).
"""

from __future__ import annotations

from collections.abc import Iterable

from threeport_workload_delivery.domain.rendering import Manifest
from threeport_workload_delivery.domain.rollout import WORKLOAD_KINDS

FIRST_KINDS = frozenset({"Namespace", "CustomResourceDefinition"})


def wave_of(manifest: Manifest) -> int:
    kind = manifest.get("kind")
    if kind in FIRST_KINDS:
        return 0
    return 2 if kind in WORKLOAD_KINDS else 1


def apply_waves(objects: Iterable[Manifest]) -> list[list[Manifest]]:
    """The non-empty waves, in the order they are applied."""
    waves: list[list[Manifest]] = [[], [], []]
    for manifest in objects:
        waves[wave_of(manifest)].append(manifest)
    return [wave for wave in waves if wave]
