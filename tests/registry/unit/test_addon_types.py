"""The registry's view of the addon catalog: a type an addon provides, with the names of its
shared outputs and of its per-claim outputs (a Kafka topic is per claim)."""

from __future__ import annotations

import asyncio
from typing import Any

from threeport.addons.v1alpha1 import addon_pb2
from threeport_registry.reconcilers.addon_types import AddonTypes


class FakeAddons:
    """The addon-manager's client, as much of it as AddonTypes uses (``client.addon.get_addon``)."""

    def __init__(self, *addons: addon_pb2.Addon) -> None:
        self._addons = {a.name: a for a in addons}
        self.addon = self

    async def get_addon(self, name: str) -> addon_pb2.Addon:
        return self._addons[name]


def test_claim_outputs_are_outputs_of_the_provided_type() -> None:
    kafka = addon_pb2.Addon(name="addons/kafka-development", spec=addon_pb2.AddonSpec(
        provides=["kafka-topic"], outputs={"host": "h", "port": "9092"}, claim_outputs={"name": "{{ .x }}"}))
    types = AddonTypes(FakeAddons(kafka))  # type: ignore[arg-type]

    result: Any = asyncio.run(types("addons/kafka-development"))

    assert result is None
    assert types.provided() == {"kafka-topic": frozenset({"host", "port", "name"})}
