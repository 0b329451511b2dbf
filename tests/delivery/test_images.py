"""What a deployment runs is derived, never written over what the user declared (issue 15 item 5):
a lost build event still rolls out, re-applying an unchanged Deployment manifest changes nothing,
an image in ``spec.images`` is a pin, and ``spec.paused`` records releases without applying them.
"""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import build_pb2
from threeport_runtime.bus.streams import resource_stream
from threeport_runtime.runtime import RunningService
from threeport_runtime.testing import start_test_service, wait_until
from threeport_workload_delivery.service import DEFINITION as DELIVERY

from .conftest import ADMIN, DEPLOYER, FAST, PARENT, PROJECT, WITHIN, Stack, client, condition, delivery_env, is_ready
from .samples import RATES

DIGEST = "sha256:" + "c" * 64
NS = f"{PROJECT}-rates-dev"
DEV = f"{PARENT}/deployments/rates-dev"
BUILT = f"registry.example.com/rates/svc:2.0.0@{DIGEST}"


def manifest(**spec: Any) -> deployment_pb2.Deployment:
    """What `tptctl apply -f rates-dev.yaml` sends: a Deployment with only what the user wrote."""
    return deployment_pb2.Deployment(name=DEV, spec=deployment_pb2.DeploymentSpec(
        application="rates", environment="dev", **spec))


async def report_main(registry_deployer: Any) -> build_pb2.Build:
    return await registry_deployer.build.report_build(
        parent=f"{PARENT}/applications/rates",
        build=build_pb2.Build(spec=build_pb2.BuildSpec(component="svc", image="registry.example.com/rates/svc:2.0.0",
                                                       digest=DIGEST, branch="main", commit="0123abc")))


async def recorded(registry_deployer: Any, name: str) -> build_pb2.Build:
    async def matched() -> build_pb2.Build | None:
        build = await registry_deployer.build.get_build(name=name)
        return build if list(build.status.environments) else None

    found: build_pb2.Build = await wait_until(matched, within=WITHIN,
                                              what="the registry to record the build's environments")
    return found


async def test_a_lost_build_event_still_rolls_out(world, monkeypatch, redis_client: Redis) -> None:  # type: ignore[no-untyped-def]
    registry, clusters, kube, _cluster, settings, opened = world
    delivery_env(monkeypatch, registry.port, clusters.port)
    registry_admin = client(registry.port, ADMIN, opened)
    registry_deployer = client(registry.port, DEPLOYER, opened)
    stack = Stack(delivery=None, registry=registry, clusters=clusters, kube=kube, cluster="",  # type: ignore[arg-type]
                  settings=settings, admin=None, deployer=None, registry_admin=registry_admin,  # type: ignore[arg-type]
                  registry_deployer=registry_deployer, clusters_operator=None,  # type: ignore[arg-type]
                  clusters_service=None, opened=opened)  # type: ignore[arg-type]
    await stack.apply_application("rates", RATES)

    async def start() -> RunningService:
        running = await start_test_service(DELIVERY, settings, FAST)
        stack.delivery, stack.admin = running, client(running.port, ADMIN, opened)
        return running

    delivery = await start()
    try:
        await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="dev")
        await stack.ready(DEV)
    finally:
        await delivery.stop(grace=1.0)

    # The build is reported while delivery is down, and its events are trimmed away before it
    # comes back: no build.reported event ever reaches it.
    build = await recorded(registry_deployer, (await report_main(registry_deployer)).name)
    stream = resource_stream(settings.stream_prefix, "threeport.registry.v1alpha1.Build")

    async def published() -> bool:
        return bool(await redis_client.xlen(stream))

    await wait_until(published, within=WITHIN, what="the build's events to be published")
    await redis_client.delete(stream)

    delivery = await start()
    try:
        rolled = await stack.deployment_when(
            DEV, lambda d: d.status.current_release == 2 and is_ready(d), "the build to roll out without its event")
        assert kube.image(NS, "rates-svc") == BUILT
        latest = (await stack.releases(DEV))[-1]
        assert latest.reason == release_pb2.RELEASE_REASON_BUILD and latest.build == build.name
        assert rolled.status.images["svc"].origin == deployment_pb2.IMAGE_ORIGIN_BUILD
    finally:
        await delivery.stop(grace=1.0)


async def test_reapplying_an_unchanged_manifest_changes_nothing_that_runs(stack: Stack) -> None:
    await stack.apply_application("rates", RATES)
    await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="rates-dev", deployment=manifest())
    await stack.ready(DEV)
    build = await report_main(stack.registry_deployer)
    await stack.deployment_when(DEV, lambda d: d.status.current_release == 2 and is_ready(d), "the build to roll out")
    assert stack.kube.image(NS, "rates-svc") == BUILT

    # The same manifest again (from Git, or a second tools/demo): the spec says what it said.
    before = await stack.admin.deployment.get_deployment(name=DEV)
    reapplied = await stack.admin.deployment.update_deployment(deployment=manifest())
    assert reapplied.generation == before.generation
    again = await stack.ready(DEV)
    assert again.status.current_release == 2
    assert [r.number for r in await stack.releases(DEV)] == [1, 2]
    assert stack.kube.image(NS, "rates-svc") == BUILT
    assert again.status.images["svc"].image.build == build.name


async def test_an_image_in_the_spec_is_a_pin_that_builds_do_not_replace(stack: Stack) -> None:
    await stack.apply_application("rates", RATES)
    await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="rates-dev", deployment=manifest())
    await stack.ready(DEV)
    pinned = release_pb2.ImageRef(image="registry.example.com/rates/svc:1.0.1")
    await stack.admin.deployment.update_deployment(deployment=manifest(images={"svc": pinned}))
    await stack.deployment_when(DEV, lambda d: d.status.current_release == 2 and is_ready(d), "the pin to roll out")
    build = await recorded(stack.registry_deployer, (await report_main(stack.registry_deployer)).name)
    # The build is seen (its event wakes the deployment) but the pin wins: still release 2.
    seen = await stack.deployment_when(
        DEV, lambda d: is_ready(d) and d.status.images["svc"].origin == deployment_pb2.IMAGE_ORIGIN_PIN,
        "the pin to be shown")
    assert seen.status.images["svc"].message == "pinned in spec.images"
    assert stack.kube.image(NS, "rates-svc") == "registry.example.com/rates/svc:1.0.1"
    plan = await stack.admin.deployment.plan(name=DEV)
    assert "svc: registry.example.com/rates/svc:1.0.1 (pinned in spec.images)" in plan.root.message

    # Unpinning runs the newest matching build.
    await stack.admin.deployment.update_deployment(deployment=manifest())
    unpinned = await stack.deployment_when(
        DEV, lambda d: d.status.current_release == 3 and is_ready(d), "the build to run once unpinned")
    assert unpinned.status.images["svc"].image.build == build.name
    assert stack.kube.image(NS, "rates-svc") == BUILT


async def test_paused_records_releases_without_applying_them(stack: Stack) -> None:
    await stack.apply_application("rates", RATES)
    await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="rates-dev",
                                                   deployment=manifest(paused=True))
    waiting = await stack.deployment_when(
        DEV, lambda d: condition(d, "Ready") is not None and condition(d, "Ready").reason == "Paused",
        "a deployment paused before its first rollout to say so")
    assert "recorded, not applied" in condition(waiting, "Paused").message
    assert stack.kube.deployment(NS, "rates-svc") is None
    assert [r.number for r in await stack.releases(DEV)] == [1]

    await stack.admin.deployment.update_deployment(deployment=manifest())
    await stack.deployment_when(DEV, lambda d: d.status.current_release == 1 and is_ready(d), "release 1 to run")
    assert condition(await stack.admin.deployment.get_deployment(name=DEV), "Paused") is None

    await stack.admin.deployment.update_deployment(deployment=manifest(paused=True))
    await report_main(stack.registry_deployer)
    paused = await stack.deployment_when(
        DEV, lambda d: condition(d, "Paused") is not None and "release 2 is recorded" in condition(d, "Paused").message,
        "the build to be recorded, not applied")
    assert paused.status.current_release == 1
    assert condition(paused, "Ready").reason == "Paused"
    assert stack.kube.image(NS, "rates-svc") == "registry.example.com/rates/svc:1.0.0"

    await stack.admin.deployment.update_deployment(deployment=manifest())
    await stack.deployment_when(DEV, lambda d: d.status.current_release == 2 and is_ready(d),
                                "the newest release to roll out once unpaused")
    assert stack.kube.image(NS, "rates-svc") == BUILT


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
