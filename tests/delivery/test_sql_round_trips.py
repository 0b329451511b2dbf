"""PostgreSQL round trips per steady reconcile of a converged deployment (issue 14: at most 4),
counted on workload-delivery's own engine for the controller's reconciles only (``tests.sql_counter``),
against the real registry, cluster-manager, emulator, PostgreSQL and Redis.

A steady reconcile reads the deployment once and its releases once; it writes nothing, takes no
row lock and opens no transaction. What a reconcile does write (a status change) still takes the
row lock and the fence check, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.sql_counter import SqlCounter, Tally
from threeport_runtime.testing import wait_until

from .conftest import PARENT, WITHIN, Stack
from .samples import RATES, SHOP
from .test_claims import with_claim_provider, with_db
from .test_remote_cache import delivery_controller, poker

STEADY_LIMIT = 4  # round trips per steady reconcile (issue 14)


def counted(stack: Stack) -> SqlCounter:
    """A counter of delivery's deployment reconciles, on delivery's engine."""
    counter = SqlCounter()
    counter.attach(stack.delivery.runtime.db.engine)
    controller = delivery_controller(stack)
    controller._reconcile = counter.wrap(controller._reconcile)
    return counter


async def steady_runs(counter: SqlCounter, poke: Callable[[], None], key: str, passes: int = 5) -> list[Tally]:
    """The tallies of ``passes`` more reconciles of ``key`` (each asked for by ``poke``)."""
    counter.take()
    runs: list[Tally] = []

    async def enough() -> bool:
        runs.extend(counter.take(key))
        if len(runs) < passes:
            poke()
        return len(runs) >= passes

    await wait_until(enough, within=WITHIN, interval=0.1, what=f"{passes} more reconciles of {key}")
    return runs[:passes]


async def warm(counter: SqlCounter, poke: Callable[[], None], key: str) -> None:
    """What converging read is behind us (caches warm, statements prepared)."""
    await steady_runs(counter, poke, key, passes=3)


def report(runs: list[Tally]) -> str:
    return "\n".join(run.show() for run in runs)


def assert_steady(runs: list[Tally], limit: int = STEADY_LIMIT) -> None:
    """Each pass within ``limit`` round trips, all of them plain reads: no transaction, no lock."""
    assert all(run.round_trips <= limit and run.transactions == 0 for run in runs), report(runs)
    assert not [s for run in runs for s in run.statements if not s.startswith("SELECT") or "FOR UPDATE" in s]


async def deployed(stack: Stack, app_id: str, spec: dict[str, Any]) -> str:
    """Deploys ``spec`` as application ``app_id`` to dev; its deployment's name once Ready."""
    await stack.apply_application(app_id, spec)
    await stack.admin.deployment.deploy(parent=PARENT, application=app_id, environment="dev")
    name = f"{PARENT}/deployments/{app_id}-dev"
    await stack.ready(name)
    return name


async def steady_tallies(stack: Stack, name: str) -> list[Tally]:
    """The tallies of five steady reconciles of ``name``, once converging is behind it."""
    counter = counted(stack)
    poke = poker(delivery_controller(stack), keys=(name,))
    await warm(counter, poke, name)
    return await steady_runs(counter, poke, name)


async def test_a_steady_reconcile_is_at_most_four_round_trips(stack: Stack) -> None:
    """Was 8 statements in 4 transactions (16 round trips): now the deployment, its namespace
    records and its releases, one plain read each."""
    assert_steady(await steady_tallies(stack, await deployed(stack, "rates", RATES)))


async def test_a_steady_reconcile_with_an_application_dependency(stack: Stack) -> None:
    """Was 19: the deployment it depends on is read as well, so 4."""
    await deployed(stack, "rates", RATES)
    assert_steady(await steady_tallies(stack, await deployed(stack, "shop", SHOP)))


async def test_a_steady_reconcile_with_a_managed_service_dependency(  # type: ignore[no-untyped-def]
    world, monkeypatch
) -> None:
    """The claim is the provider's (read over gRPC): nothing more here than without it."""
    async with with_claim_provider(world, monkeypatch) as (stack, _provider):
        assert_steady(await steady_tallies(stack, await deployed(stack, "rates", with_db("small"))))
