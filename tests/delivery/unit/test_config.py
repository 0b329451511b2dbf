"""workload-delivery's settings: the cache limit is an operator's whole number, never a typo
read as "unbounded"."""

from __future__ import annotations

import pytest

from threeport_runtime.config import ConfigError
from threeport_workload_delivery.config import DeliveryConfig


def test_the_cache_limit_defaults_to_room_for_ten_thousand_deployments() -> None:
    assert DeliveryConfig.from_env({}).cache_entries >= 10_000
    assert DeliveryConfig.from_env({"THREEPORT_DELIVERY_CACHE_ENTRIES": "500"}).cache_entries == 500


@pytest.mark.parametrize("raw", ["lots", "0", "-1", "1.5"])
def test_a_cache_limit_that_is_not_a_positive_whole_number_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="THREEPORT_DELIVERY_CACHE_ENTRIES"):
        DeliveryConfig.from_env({"THREEPORT_DELIVERY_CACHE_ENTRIES": raw})
