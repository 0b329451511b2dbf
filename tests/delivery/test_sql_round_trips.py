"""PostgreSQL round trips per steady reconcile of a converged deployment (issue 14: at most 4),
counted on workload-delivery's own engine for the controller's reconciles only (``tests.sql_counter``),
against the real registry, cluster-manager, emulator, PostgreSQL and Redis.

A steady reconcile reads the deployment once and its releases once; it writes nothing, takes no
row lock and opens no transaction. What a reconcile does write (a status change) still takes the
row lock and the fence check (tests/runtime/test_status_writes.py).
"""

from __future__ import annotations

from typing import Any

from tests.sql_counter import Tally, assert_steady, counted_controller, steady_runs

from .conftest import PARENT, Stack
from .samples import RATES, SHOP
from .test_claims import with_claim_provider, with_db

STEADY_LIMIT = 4  # round trips per steady reconcile (issue 14)


async def deployed(stack: Stack, app_id: str, spec: dict[str, Any]) -> str:
    """Deploys ``spec`` as application ``app_id`` to dev; its deployment's name once Ready."""
    await stack.apply_application(app_id, spec)
    await stack.admin.deployment.deploy(parent=PARENT, application=app_id, environment="dev")
    name = f"{PARENT}/deployments/{app_id}-dev"
    await stack.ready(name)
    return name


async def steady_tallies(stack: Stack, name: str) -> list[Tally]:
    """The tallies of five steady reconciles of ``name``, once converging is behind it."""
    counter, enqueue = counted_controller(stack.delivery, "delivery.deployment")
    return await steady_runs(counter, enqueue, name)


async def test_a_steady_reconcile_is_at_most_four_round_trips(stack: Stack) -> None:
    """Was 8 statements in 4 transactions (16 round trips): now the deployment, its namespace
    records and its releases, one plain read each."""
    assert_steady(await steady_tallies(stack, await deployed(stack, "rates", RATES)), STEADY_LIMIT)


async def test_a_steady_reconcile_with_an_application_dependency(stack: Stack) -> None:
    """Was 19: the deployment it depends on is read as well, so 4."""
    await deployed(stack, "rates", RATES)
    assert_steady(await steady_tallies(stack, await deployed(stack, "shop", SHOP)), STEADY_LIMIT)


async def test_a_steady_reconcile_with_a_managed_service_dependency(  # type: ignore[no-untyped-def]
    world, monkeypatch
) -> None:
    """The claim is the provider's (read over gRPC): nothing more here than without it."""
    async with with_claim_provider(world, monkeypatch) as (stack, _provider):
        assert_steady(await steady_tallies(stack, await deployed(stack, "rates", with_db("small"))), STEADY_LIMIT)
