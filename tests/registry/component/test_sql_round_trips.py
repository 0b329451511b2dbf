"""PostgreSQL round trips per steady reconcile of an accepted application (issue 14), counted on
the registry's own engine for that controller's reconciles only (``tests.sql_counter``).

Was 7 (the application read in a transaction, its builds listed in another, the no-op status
compared on a read of its own); now the application and its builds, one plain read each.
"""

from __future__ import annotations

from tests.registry.component.conftest import DEPLOYER, ClientFor
from tests.registry.component.test_registry_service import shop
from tests.sql_counter import assert_steady, counted_controller, steady_runs
from threeport_runtime.runtime import RunningService


async def test_a_steady_application_reconcile_is_two_plain_reads(
    registry: RunningService, client_as: ClientFor
) -> None:
    client = client_as(DEPLOYER)
    created = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=shop())
    await client.application.wait_ready(created.name, timeout=20)
    counter, enqueue = counted_controller(registry, "registry.application")
    assert_steady(await steady_runs(counter, enqueue, created.name), limit=2)
