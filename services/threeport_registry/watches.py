"""What wakes the registry's controllers (``For`` / ``Watches``).

Every resource type has an acceptance controller ``registry.<type>`` for its own changes; an
application's also follows new builds, which change its ``status.latest_builds``.
``registry.addon-types`` follows the addon-manager's catalog (``reconcilers/addon_types.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threeport.common.v1alpha1 import change_event_pb2
from threeport_registry.reconcilers.addon_types import ADDON_RESOURCE, AddonTypes
from threeport_runtime.bus.streams import resource_stream
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.reconcile.controller import Watch
from threeport_runtime.reconcile.spec import ControllerSpec, For


def acceptance_controller(
    name: str, repository: ResourceRepository[Any, Any], watches: Sequence[Watch] = ()
) -> ControllerSpec:
    return ControllerSpec(f"registry.{name}", for_=For.resource(repository), watches=watches)


async def application_of_build(event: change_event_pb2.ChangeEvent) -> list[str]:
    """``projects/P/applications/A/builds/B`` -> ``projects/P/applications/A``."""
    return [event.name.rsplit("/builds/", 1)[0]]


def new_builds(builds: ResourceRepository[Any, Any]) -> Watch:
    return Watch(builds.stream, keys=application_of_build, changes=frozenset({change_event_pb2.CHANGE_TYPE_CREATED}))


def addon_types_controller(prefix: str, addon_types: AddonTypes) -> ControllerSpec:
    """Every Addon change (and a resync of the whole catalog) refreshes the provided types."""
    return ControllerSpec(
        "registry.addon-types",
        for_=For(resource_stream(prefix, ADDON_RESOURCE), addon_types.names),
    )
