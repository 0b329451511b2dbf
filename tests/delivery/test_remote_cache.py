"""Delivery's caches of what other services own (``remote_reads``), against the real registry
and cluster-manager: a steady reconcile asks neither of them anything; an application change
reaches the next rollout; a lost event is repaired by the resync; the LRU limit holds.

gRPC calls are counted by the services' own request counters (``threeport.rpc.server.calls``,
every service of this process records into the same meter), reconciles by the controller's
(``threeport.reconcile.count``)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from unittest.mock import patch

import pytest

from threeport.common.v1alpha1 import change_event_pb2
from threeport.registry.v1alpha1 import application_pb2, build_pb2, environment_pb2
from threeport_registry.service import DEFINITION as REGISTRY
from threeport_runtime.bus.streams import resource_stream
from threeport_runtime.prometheus import READER
from threeport_runtime.reconcile.controller import Controller
from threeport_runtime.remote_cache import CacheFeed, RemoteCache
from threeport_runtime.runtime import start_service
from threeport_runtime.testing import free_port, start_test_service, wait_until
from threeport_workload_delivery.remote_reads import (
    APPLICATIONS,
    ENVIRONMENTS,
    DeliveryCaches,
    Listings,
    builds_key,
    release_source,
)
from threeport_workload_delivery.service import DEFINITION as DELIVERY

from .conftest import FAST, PARENT, PROJECT, SERVICE, WITHIN, Stack, client
from .samples import RATES
from .test_claims import with_claim_provider, with_db

NAME = f"{PARENT}/deployments/rates-dev"
NS = f"{PROJECT}-rates-dev"
OTHER_SERVICES = ("/threeport.registry.", "/threeport.clusters.")


def counter(family_name: str, labels: Callable[[dict[str, str]], bool]) -> float:
    """The sum of a counter's samples whose labels ``labels`` accepts (0 when never recorded)."""
    total = 0.0
    for family in READER.families():
        if family.name != family_name:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and labels(sample.labels):
                total += sample.value
    return total


def calls_to_other_services() -> dict[str, float]:
    """Calls the registry and the cluster-manager served so far, by method."""
    found: dict[str, float] = {}
    for family in READER.families():
        if family.name != "threeport_rpc_server_calls":
            continue
        for sample in family.samples:
            method = sample.labels.get("rpc_method", "")
            if sample.name.endswith("_total") and method.startswith(OTHER_SERVICES):
                found[method] = found.get(method, 0.0) + sample.value
    return found


def reconciles() -> float:
    return counter("threeport_reconcile_count",
                   lambda labels: labels.get("controller") == "delivery.deployment"
                   and labels.get("outcome") == "success")


def cache_entries(cache: str) -> float:
    for family in READER.families():
        if family.name == "threeport_remote_cache_entries":
            return sum(s.value for s in family.samples if s.labels.get("cache") == cache)
    raise AssertionError("delivery reports no cache sizes")


def delivery_controller(stack: Stack) -> Controller:
    return next(c for c in stack.delivery.runtime.controllers if c.name == "delivery.deployment")


def poker(*controllers: Controller, keys: tuple[str, ...] = (NAME,)) -> Callable[[], None]:
    """Queues ``keys`` on ``controllers``: a converged deployment whose cluster's watch is synced
    is not requeued by time, so the tests ask for the reconciles they count (as the periodic
    resync or any event would)."""

    def poke() -> None:
        for controller in controllers:
            for key in keys:
                controller.enqueue(key)

    return poke


async def steady_calls(poke: Callable[[], None], passes: int = 3) -> dict[str, float]:
    """The calls to other services made while the controller reconciles ``passes`` more times
    (each asked for by ``poke``)."""
    before, start = calls_to_other_services(), reconciles()

    async def enough() -> bool:
        poke()
        return reconciles() >= start + passes

    await wait_until(enough, within=WITHIN, interval=0.1, what=f"{passes} more reconciles")
    after = calls_to_other_services()
    return {method: count - before.get(method, 0.0) for method, count in after.items()
            if count != before.get(method, 0.0)}


async def settles_without_calls(poke: Callable[[], None], passes: int = 6, windows: int = 5) -> None:
    """After a change each replica re-reads what the change's events forgot, once, whenever it
    next reconciles; then a window of ``passes`` reconciles asks no other service anything."""
    seen = []
    for _ in range(windows):
        calls = await steady_calls(poke, passes)
        if not calls:
            return
        seen.append(calls)
    raise AssertionError(f"never steady without calls to other services: {seen}")


async def deploy_rates(stack: Stack) -> Any:
    await stack.apply_application("rates", RATES)
    await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    return await stack.ready(NAME)


def with_image(image: str) -> dict[str, Any]:
    return {"components": {"svc": {**RATES["components"]["svc"], "image": image}}}


async def test_a_steady_reconcile_asks_no_other_service(stack: Stack) -> None:
    await deploy_rates(stack)
    poke = poker(delivery_controller(stack))
    await steady_calls(poke, passes=2)  # what converging read is behind us; the caches are warm
    assert await steady_calls(poke, passes=5) == {}


async def test_a_steady_reconcile_with_a_dependency_asks_the_registry_nothing(  # type: ignore[no-untyped-def]
    world, monkeypatch
) -> None:
    """A managed-service dependency's service class is resolved once, then kept (the claim itself
    is the provider's: still read, from the in-test provider of ``test_claims``)."""
    async with with_claim_provider(world, monkeypatch) as (stack, _provider):
        await stack.apply_application("rates", with_db("small"))
        await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="dev")
        ready = await stack.ready(NAME)
        assert [(d.name, d.reason) for d in ready.status.dependencies] == [("db", "Bound")]
        poke = poker(delivery_controller(stack))
        await steady_calls(poke, passes=2)
        assert await steady_calls(poke, passes=5) == {}


async def test_an_application_change_reaches_the_next_rollout(stack: Stack) -> None:
    """Each update's event forgets the cached application before the deployment is queued, so
    the rollout that follows is of the newest version, every time."""
    await deploy_rates(stack)
    poke = poker(delivery_controller(stack))
    await steady_calls(poke, passes=2)
    for number, version in enumerate(("1.1.0", "1.2.0", "1.3.0"), start=2):
        image = f"registry.example.com/rates/svc:{version}"
        await stack.apply_application("rates", with_image(image))
        await stack.deployment_when(NAME, lambda d, n=number: d.status.current_release == n,  # type: ignore[misc]
                                    f"release {number} ({version}) to be rolled out")

        async def rolled_out(image: str = image) -> bool:
            return stack.kube.image(NS, "rates-svc") == image

        await wait_until(rolled_out, within=WITHIN, what=f"{image} to run")
    # Converged on the newest, then steady again without asking the registry.
    await settles_without_calls(poke)
    assert len(await stack.releases(NAME)) == 4


async def resync_calls(stack: Stack, deployments: int) -> dict[str, float]:
    """The calls to other services made by a full resync and the reconciles it queues."""
    before, start = calls_to_other_services(), reconciles()
    await delivery_controller(stack).resync()  # what the periodic resync does

    async def reconciled() -> bool:
        return reconciles() >= start + deployments

    await wait_until(reconciled, within=WITHIN, interval=0.1, what="the resynced deployments to be reconciled")
    return calls_since(before)


def calls_since(before: dict[str, float]) -> dict[str, float]:
    """The calls to other services made since ``before`` (``calls_to_other_services``), by method name."""
    return {method.rsplit("/", 1)[1]: count - before.get(method, 0.0)
            for method, count in calls_to_other_services().items() if count != before.get(method, 0.0)}


async def start_up_resync_reads(before: dict[str, float], reconciled_before: float) -> dict[str, float]:
    """The calls to other services since ``before``, once a started delivery's resync has
    reconciled both deployments (``deploy_two``); none of them may be a read of one resource."""
    async def reconciled() -> bool:
        return reconciles() >= reconciled_before + 2

    await wait_until(reconciled, within=WITHIN, interval=0.1, what="the start-up resync to reconcile both")
    read = calls_since(before)
    assert not {"GetApplication", "GetEnvironment", "GetClusterClaim", "ListLatestBuilds"} & read.keys(), read
    assert read.get("BatchListLatestBuilds", 0) >= 1, read
    return read


async def deploy_two(stack: Stack) -> str:
    """rates and fx deployed to dev, both Ready: fx's deployment name."""
    other = f"{PARENT}/deployments/fx-dev"
    await stack.apply_application("fx", {"components": {"svc": {**RATES["components"]["svc"],
                                                                "image": "registry.example.com/fx/svc:1.0.0"}}})
    await stack.admin.deployment.deploy(parent=PARENT, application="fx", environment="dev")
    await deploy_rates(stack)
    await stack.ready(other)
    return other


RESYNC_LISTS = {method: 1.0 for method in (
    "ListApplications", "ListEnvironments", "ListBuilds", "ListServiceClasses", "ListClusterClaims")}


async def test_a_resync_with_nothing_changed_reads_nothing_per_deployment(stack: Stack) -> None:
    """The periodic resync checks the caches with one List page per cached kind, whatever the
    number of deployments, instead of clearing them (which cost every deployment's reconcile
    its reads of the application, the builds and the claim)."""
    other = await deploy_two(stack)
    poke = poker(delivery_controller(stack), keys=(NAME, other))
    await steady_calls(poke, passes=4)
    await resync_calls(stack, 2)  # the first listing of the project, for the next to compare with
    await settles_without_calls(poke)
    for _ in range(2):
        assert await resync_calls(stack, 2) == RESYNC_LISTS


async def test_the_resync_after_a_restart_reads_nothing_one_by_one(stack: Stack) -> None:
    """A restarted delivery's caches are empty, and its first resync has no previous listing to
    compare with: it fills the caches of applications, environments and claims from the
    listings it makes anyway, and the newest builds (an answer the registry computes) with one
    batch call for the deployments' (application, environment) pairs, so the reconciles it
    queues read nothing from other services one by one."""
    other = await deploy_two(stack)
    await settles_without_calls(poker(delivery_controller(stack), keys=(NAME, other)))
    await stack.delivery.stop(grace=1.0)

    before, start = calls_to_other_services(), reconciles()
    stack.delivery = await start_test_service(DELIVERY, stack.settings, FAST)
    read = await start_up_resync_reads(before, start)
    assert read.get("ListApplications", 0) >= 1 and read.get("ListClusterClaims", 0) >= 1, read


async def test_a_delivery_started_before_the_registry_listens_fills_its_caches_once_it_does(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The plane's services start together (``tptctl up``): delivery's start-up resync may list
    before the registry listens. It asks again until the registry answers instead of giving up
    (which cleared everything and left each reconcile to read one by one until the next
    periodic resync), so the reconciles it queues still read nothing one by one."""
    caplog.set_level(logging.INFO, logger="threeport_runtime.remote_cache")
    await deploy_two(stack)
    await stack.delivery.stop(grace=1.0)
    late = free_port()  # where a registry replica will listen, once delivery has found nobody there
    monkeypatch.setenv("THREEPORT_BACKEND_REGISTRY", f"127.0.0.1:{late}")
    before, start = calls_to_other_services(), reconciles()
    stack.delivery = await start_test_service(DELIVERY, stack.settings, FAST)

    async def refused() -> bool:
        return any("cannot be reached yet" in record.getMessage() for record in caplog.records)

    await wait_until(refused, within=WITHIN, interval=0.1, what="delivery's resync to find no registry")
    registry = await start_service(
        REGISTRY, stack.registry.runtime.settings.with_overrides(listen_address=f"127.0.0.1:{late}"), FAST)
    try:
        await start_up_resync_reads(before, start)
        assert not any("forgetting everything" in record.getMessage() for record in caplog.records)
    finally:
        await registry.stop(grace=1.0)


async def test_the_batched_newest_builds_are_asked_only_for_missing_keys_with_room(stack: Stack) -> None:
    """``Listings.latest_builds`` against the real registry: only the pairs whose entry the cache
    is missing, no more than it has room for, each answered as ``ListLatestBuilds`` answers it,
    in batches of ``BATCH_SIZE``."""
    await stack.apply_application("rates", RATES)
    await stack.apply_application("fx", RATES)
    await stack.registry_deployer.build.report_build(parent=f"{PARENT}/applications/rates", build=build_pb2.Build(
        spec=build_pb2.BuildSpec(component="svc", image="registry.example.com/rates/svc:2.0.0", branch="main")))
    dev, prod = f"{PARENT}/environments/dev", f"{PARENT}/environments/prod"
    rates, fx = f"{PARENT}/applications/rates", f"{PARENT}/applications/fx"
    pairs = [(fx, prod), (rates, dev), (rates, prod), (fx, dev)]

    async def recorded() -> bool:  # the registry records the environments a build matches
        return bool((await stack.registry_admin.build.list_latest_builds(parent=rates, environment=dev)).builds)

    await wait_until(recorded, within=WITHIN, interval=0.05, what="the build to match dev")

    async def named_pairs() -> list[tuple[str, str]]:
        return pairs

    registry = client(stack.registry.port, SERVICE, stack.opened)
    listings = Listings(registry, stack.clusters_service, _no_projects, named_pairs)
    builds: RemoteCache[build_pb2.ListLatestBuildsResponse] = RemoteCache("builds", max_entries=3)
    filling = builds.begin_fill()
    builds.end_fill(filling)
    builds.fill(filling, [(builds_key(*pairs[0]), build_pb2.ListLatestBuildsResponse())])
    before = calls_to_other_services()
    with patch("threeport_workload_delivery.remote_reads.BATCH_SIZE", 1):
        found = [entry async for entry in listings.latest_builds(builds)]
    batches = {method: count - before.get(method, 0.0) for method, count in calls_to_other_services().items()
               if method.endswith("/BatchListLatestBuilds")}
    assert list(batches.values()) == [2.0], batches
    assert [key for key, _ in found] == [builds_key(*pair) for pair in pairs[1:3]]  # room for 2
    assert list(found[0][1].builds) == ["svc"] and not found[1][1].builds
    for (application, environment), (_, latest) in zip(pairs[1:3], found, strict=True):
        assert latest == await stack.registry_admin.build.list_latest_builds(
            parent=application, environment=environment)


async def _no_projects() -> AsyncIterator[str]:
    for project in ():
        yield project


async def test_a_lost_event_is_repaired_by_the_resync(stack: Stack) -> None:
    """The registry's relay stops, so delivery never hears of an update (as if the stream had
    been trimmed): its steady reconciles keep the copy they have, and the next full resync
    finds the application changed in the registry's listing, forgets it (only it: the claim is
    not read again) and rolls the update out."""
    await deploy_rates(stack)
    poke = poker(delivery_controller(stack))
    await steady_calls(poke, passes=2)
    await resync_calls(stack, 1)  # the listing the next resync compares with
    await settles_without_calls(poke)
    relay = next(t for t in stack.registry.tasks if t.get_name() == "outbox relay")
    relay.cancel()
    image = "registry.example.com/rates/svc:2.0.0"
    await stack.apply_application("rates", with_image(image))
    assert await steady_calls(poke, passes=3) == {}  # served from the cache: nothing said it changed
    assert stack.kube.image(NS, "rates-svc") == RATES["components"]["svc"]["image"]

    before = calls_to_other_services()
    await delivery_controller(stack).resync()  # what the periodic resync does
    await stack.deployment_when(NAME, lambda d: d.status.current_release == 2, "the update to be rolled out")

    async def rolled_out() -> bool:
        return stack.kube.image(NS, "rates-svc") == image

    await wait_until(rolled_out, within=WITHIN, what="the update to run")
    read = {method.rsplit("/", 1)[1] for method, count in calls_to_other_services().items()
            if count != before.get(method, 0.0)}
    assert "GetApplication" in read and "GetClusterClaim" not in read, read


async def test_every_replica_forgets_a_changed_application(stack: Stack) -> None:
    """Two replicas both reconcile the deployment (asked to, often); the update's event reaches
    one replica's consumer, and the other must not roll the old application back out from its
    copy: exactly one new release, and both are steady again without asking the registry."""
    await deploy_rates(stack)
    second = await start_test_service(DELIVERY, stack.settings, FAST)
    try:
        poke = poker(*(next(c for c in replica.runtime.controllers if c.name == "delivery.deployment")
                       for replica in (stack.delivery, second)))
        await steady_calls(poke, passes=6)  # both replicas have read and hold the first version
        image = "registry.example.com/rates/svc:3.0.0"
        await stack.apply_application("rates", with_image(image))
        await stack.deployment_when(NAME, lambda d: d.status.current_release == 2, "release 2 to be rolled out")
        await settles_without_calls(poke)
        assert [r.images["svc"].image for r in await stack.releases(NAME)] == [
            RATES["components"]["svc"]["image"], image]
        assert stack.kube.image(NS, "rates-svc") == image
    finally:
        await second.stop(grace=1.0)


async def test_a_replica_whose_feed_lags_asks_the_registry_before_it_makes_a_release(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moment between a change and a replica hearing of it, made as long as the test: the
    second replica's feed never reads and its caches forget nothing. It keeps reconciling the
    deployment from its old copies, and before making a release from them asks the registry
    whether they are current: each update makes exactly one release, and no older version is
    rolled out again."""
    await deploy_rates(stack)

    async def never_reads(_feed: CacheFeed, _redis: Any, **_options: Any) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(CacheFeed, "follow", never_reads)  # only the replica started below
    second = await start_test_service(DELIVERY, stack.settings, FAST)
    try:
        lagging = next(c for c in second.runtime.controllers if c.name == "delivery.deployment")
        # Nor do the events its own consumer receives make it forget anything.
        for cache in vars(lagging._reconcile._reads.caches).values():  # type: ignore[attr-defined]
            monkeypatch.setattr(cache, "forget", lambda *_: None)
            monkeypatch.setattr(cache, "forget_where", lambda *_: None)
            monkeypatch.setattr(cache, "clear", lambda: None)
        await steady_calls(poker(lagging), passes=4)  # it holds the first version
        images = [RATES["components"]["svc"]["image"]]
        both = poker(delivery_controller(stack), lagging)  # whichever consumer an update's event reached
        for number, version in enumerate(("3.0.0", "3.1.0", "3.2.0"), start=2):
            images.append(f"registry.example.com/rates/svc:{version}")
            await stack.apply_application("rates", with_image(images[-1]))

            async def released(number: int = number) -> bool:
                both()
                found = await stack.admin.deployment.get_deployment(name=NAME)
                return bool(found.status.current_release >= number)

            await wait_until(released, within=WITHIN, interval=0.1, what=f"release {number} to be rolled out")
            await steady_calls(poker(lagging), passes=4)
        assert [r.images["svc"].image for r in await stack.releases(NAME)] == images
        assert stack.kube.image(NS, "rates-svc") == images[-1]
    finally:
        await second.stop(grace=1.0)


@pytest.fixture
def one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREEPORT_DELIVERY_CACHE_ENTRIES", "1")


async def test_the_cache_limit_holds(one_entry: None, stack: Stack) -> None:
    """With room for one entry per cache, two deployments still converge (each read evicts
    the other's), and no cache grows past its limit."""
    other = {"components": {"svc": {**RATES["components"]["svc"], "image": "registry.example.com/fx/svc:1.0.0"}}}
    await stack.apply_application("fx", other)
    await stack.admin.deployment.deploy(parent=PARENT, application="fx", environment="dev")
    await deploy_rates(stack)
    await stack.ready(f"{PARENT}/deployments/fx-dev")
    calls = await steady_calls(poker(delivery_controller(stack), keys=(NAME, f"{PARENT}/deployments/fx-dev")),
                               passes=4)
    assert calls, "one entry per cache cannot hold two deployments' reads"
    gc.collect()  # the caches of services stopped by earlier tests leave the gauge
    for cache in ("applications", "environments", "builds", "cluster_claims", "service_classes"):
        assert cache_entries(cache) <= 1, cache



def not_found_claim_reads() -> float:
    return counter("threeport_rpc_server_calls", lambda labels: labels.get("rpc_method", "").endswith(
        "ClusterClaimService/GetClusterClaim") and labels.get("rpc_grpc_status_code") == "NOT_FOUND")


async def test_a_new_deployment_creates_its_claim_without_reading_it_first(stack: Stack) -> None:
    """The first reconcile of a deployment asked for a claim that could not exist yet (a call on
    every create's way to Ready); it creates it at once, and its request id covers a repeat."""
    before = not_found_claim_reads()
    await deploy_rates(stack)
    assert not_found_claim_reads() == before


def refreshes() -> float:
    """Confirmations of a cached application or its builds (the environment is shared by every
    deployment to it, so usually cached from before a deployment's first pass)."""
    return counter("threeport_remote_cache_reads", lambda labels: labels.get("outcome") == "refresh"
                   and labels.get("cache") in ("applications", "builds"))


@pytest.fixture
def controller_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The controllers' INFO lines, from before the services start (list it before ``stack``)."""
    caplog.set_level(logging.INFO, logger="threeport_runtime.reconcile.controller")
    return caplog


async def startup_resync_done(logs: pytest.LogCaptureFixture) -> None:
    """Waits until delivery's start-up resync queued its keys (its cache check is over)."""

    async def done() -> bool:
        return any(record.getMessage() == "resync queued keys"
                   and getattr(record, "controller", "") == "delivery.deployment"
                   for record in [*logs.get_records("setup"), *logs.records])

    await wait_until(done, within=WITHIN, interval=0.05, what="delivery's start-up resync")


async def test_a_first_release_from_copies_read_in_its_own_pass_is_not_confirmed(
    controller_logs: pytest.LogCaptureFixture, stack: Stack
) -> None:
    """A new deployment's first pass reads its application and builds from the registry (nothing
    is cached of them yet) and, with no release to roll back, makes release 1 without asking
    the registry for them a second time (2 of a new deployment's ~12 calls). An update, which
    has releases, still confirms its copies (the lagging replica's test above).

    The start-up resync is over first: its check fills the caches from listings and batches,
    and a copy filled for the new deployment before its pass read its own is (rightly) confirmed."""
    await startup_resync_done(controller_logs)
    before = refreshes()
    await deploy_rates(stack)
    assert refreshes() == before
    await stack.apply_application("rates", with_image("registry.example.com/rates/svc:9.0.0"))

    async def released() -> bool:
        found = await stack.admin.deployment.get_deployment(name=NAME)
        return bool(found.status.current_release >= 2)

    await wait_until(released, within=WITHIN, interval=0.1, what="release 2 to be rolled out")
    assert refreshes() == before + 2  # release 2 was made from copies it confirmed


async def test_a_status_only_change_forgets_nothing_a_release_is_made_from() -> None:
    """A release is made from an application's and an environment's spec and generation: the
    registry marking one Ready (a status-only event) keeps the cached copies and builds; any
    other change forgets them, and ``release_source`` tells copies apart by what releases use."""
    caches = DeliveryCaches.sized(10)
    feed = caches.feed("p")
    app_name, env_name = "projects/acme/applications/rates", "projects/acme/environments/dev"
    app = application_pb2.Application(name=app_name, generation=2)
    env = environment_pb2.Environment(name=env_name, generation=1)

    async def answer(value: Any) -> Any:
        return value

    async def fill() -> None:
        await caches.applications.get(app_name, lambda: answer(app))
        await caches.environments.get(env_name, lambda: answer(env))
        await caches.builds.get(builds_key(app_name, env_name), lambda: answer(build_pb2.ListLatestBuildsResponse()))

    await fill()
    for stream, name in ((resource_stream("p", APPLICATIONS), app_name),
                         (resource_stream("p", ENVIRONMENTS), env_name)):
        feed.handle(stream, change_event_pb2.ChangeEvent(name=name, change=change_event_pb2.CHANGE_TYPE_STATUS_CHANGED))
    assert app_name in caches.applications and env_name in caches.environments and len(caches.builds) == 1
    feed.handle(resource_stream("p", APPLICATIONS),
                change_event_pb2.ChangeEvent(name=app_name, change=change_event_pb2.CHANGE_TYPE_UPDATED))
    assert app_name not in caches.applications and len(caches.builds) == 0
    feed.handle(resource_stream("p", ENVIRONMENTS),
                change_event_pb2.ChangeEvent(name=env_name, change=change_event_pb2.CHANGE_TYPE_UPDATED))
    assert env_name not in caches.environments

    marked_ready = application_pb2.Application(name=app_name, generation=2)
    marked_ready.conditions.add(type="Ready", status="CONDITION_STATUS_TRUE")
    assert release_source(marked_ready) == release_source(app)
    changed = application_pb2.Application(name=app_name, generation=3)
    changed.spec.components["svc"].image = "registry.example.com/rates/svc:2"
    assert release_source(changed) != release_source(app)
