"""Builds, promotion with approval, rollback, a failing image, drift, plan."""

from __future__ import annotations

from typing import Any

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import build_pb2
from threeport.sdk import FailedPreconditionError
from threeport_runtime.testing import wait_until

from .conftest import PARENT, PROJECT, WITHIN, Stack, condition
from .samples import RATES

DIGEST = "sha256:" + "a" * 64
FIXED = "sha256:" + "b" * 64


async def report(stack: Stack, image: str, digest: str = "", **git: str) -> build_pb2.Build:
    return await stack.registry_deployer.build.report_build(
        parent=f"{PARENT}/applications/rates",
        build=build_pb2.Build(spec=build_pb2.BuildSpec(component="svc", image=image, digest=digest, **git)),
    )


async def test_build_promote_approve_rollback(stack: Stack) -> None:
    await stack.apply_application("rates", RATES)
    dev = f"{PARENT}/deployments/rates-dev"
    prod = f"{PARENT}/deployments/rates-prod"
    await stack.deployer.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    await stack.ready(dev)
    # prod requires approval even for its first release.
    await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="prod")
    waiting = await stack.deployment_when(prod, lambda d: condition(d, "Ready") is not None
                                          and condition(d, "Ready").reason == "AwaitingApproval", "prod to wait")
    assert stack.kube.deployment(f"{PROJECT}-rates-prod", "rates-svc") is None
    await stack.admin.deployment.approve(name=prod)
    await stack.ready(prod)
    assert waiting.status.pending_release == 1

    build = await report(stack, "registry.example.com/rates/svc:1.1.0", DIGEST, branch="main", commit="abcdef1")
    pinned = f"registry.example.com/rates/svc:1.1.0@{DIGEST}"
    await stack.deployment_when(dev, lambda d: d.status.current_release == 2 and condition(d, "Ready").status == 1,
                                "the build to roll out to dev")
    assert stack.kube.image(f"{PROJECT}-rates-dev", "rates-svc") == pinned
    dev_releases = await stack.releases(dev)
    assert dev_releases[-1].reason == release_pb2.RELEASE_REASON_BUILD
    assert dev_releases[-1].build == build.name
    # prod's rule is tags v*: a main-branch build does not go there.
    assert [r.number for r in await stack.releases(prod)] == [1]
    assert stack.kube.image(f"{PROJECT}-rates-prod", "rates-svc") == "registry.example.com/rates/svc:1.0.0"

    promoted = await stack.deployer.deployment.promote(parent=PARENT, application="rates", from_environment="dev",
                                                       to_environment="prod")
    assert promoted.release.number == 2
    assert promoted.release.approval == release_pb2.APPROVAL_STATE_PENDING
    assert promoted.release.reason == release_pb2.RELEASE_REASON_PROMOTION
    try:
        await stack.deployer.deployment.approve(name=prod)
        raise AssertionError("a deployer must not approve")
    except Exception as error:
        assert "admin" in str(error)
    assert stack.kube.image(f"{PROJECT}-rates-prod", "rates-svc") == "registry.example.com/rates/svc:1.0.0"
    await stack.admin.deployment.approve(name=prod)
    await stack.deployment_when(prod, lambda d: d.status.current_release == 2 and condition(d, "Ready").status == 1,
                                "the promotion to roll out")
    assert stack.kube.image(f"{PROJECT}-rates-prod", "rates-svc") == pinned
    approved = (await stack.releases(prod))[-1]
    assert approved.approval == release_pb2.APPROVAL_STATE_APPROVED and approved.approved_by == "principals/alice"

    rolled = await stack.deployer.deployment.rollback(name=dev, to_release=1)
    assert rolled.release.number == 3 and rolled.release.reason == release_pb2.RELEASE_REASON_ROLLBACK
    assert any("data" in note for note in rolled.notes)
    await stack.deployment_when(dev, lambda d: d.status.current_release == 3 and condition(d, "Ready").status == 1,
                                "the rollback to roll out")
    assert stack.kube.image(f"{PROJECT}-rates-dev", "rates-svc") == "registry.example.com/rates/svc:1.0.0"
    assert [r.number for r in await stack.releases(dev)] == [1, 2, 3]
    try:
        await stack.admin.deployment.approve(name=dev)
        raise AssertionError("nothing waits for approval in dev")
    except FailedPreconditionError:
        pass


async def test_image_pull_failure_then_fixed_build(stack: Stack, emulator: object) -> None:
    await stack.apply_application("rates", RATES)
    dev = f"{PARENT}/deployments/rates-dev"
    await stack.deployer.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    await stack.ready(dev)
    control = emulator.control  # type: ignore[attr-defined]
    control.image_pull_fail(stack.kube.info.name, "registry.example.com/rates/svc:broken*")
    await report(stack, "registry.example.com/rates/svc:broken", branch="main")
    failed = await stack.deployment_when(
        dev, lambda d: d.status.rollout.phase == deployment_pb2.ROLLOUT_PHASE_FAILED, "the rollout to fail")
    assert condition(failed, "Ready").reason == "RolloutFailed"
    assert failed.status.rollout.reason in ("ImagePullBackOff", "ErrImagePull")
    assert "registry.example.com/rates/svc:broken" in failed.status.rollout.message
    assert "RolloutFailed" in {e.reason for e in await stack.events(dev)}
    await report(stack, "registry.example.com/rates/svc:1.2.0", FIXED, branch="main")
    fixed = await stack.deployment_when(dev, lambda d: d.status.current_release == 3 and
                                        condition(d, "Ready").status == 1, "the fixed build to be Ready")
    assert fixed.state != 0
    assert stack.kube.image(f"{PROJECT}-rates-dev", "rates-svc") == f"registry.example.com/rates/svc:1.2.0@{FIXED}"


async def test_drift_is_corrected_and_plan_shows_changes(stack: Stack) -> None:
    await stack.apply_application("rates", RATES)
    dev = f"{PARENT}/deployments/rates-dev"
    ns = f"{PROJECT}-rates-dev"
    await stack.deployer.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    await stack.ready(dev)
    plan = await stack.admin.deployment.plan(name=dev)
    assert {c.action for c in plan.changes} == {deployment_pb2.OBJECT_ACTION_UNCHANGED}
    assert [n.kind for n in plan.root.children] == ["cluster"]

    assert stack.kube.delete(f"/api/v1/namespaces/{ns}/services/rates-svc") == 200

    async def recreated() -> bool:
        return stack.kube.get(f"/api/v1/namespaces/{ns}/services/rates-svc") is not None

    await wait_until(recreated, within=WITHIN, what="the deleted Service to be recreated")

    async def reported() -> list[Any]:
        # Recorded just after the objects are applied: the Service may be back a moment before.
        return [e for e in await stack.events(dev) if e.reason == "DriftCorrected"]

    events = await wait_until(reported, within=WITHIN, what="a DriftCorrected event")
    assert "Service" in events[0].message

    changed = {**RATES, "components": {"svc": {**RATES["components"]["svc"], "replicas": 3}},
               "dependencies": {"db": {"type": "postgres", "class": "small"}}}
    await stack.apply_application("rates", changed)
    plan = await stack.admin.deployment.plan(parent=PARENT, application="rates", environment="dev")
    updates = [c for c in plan.changes if c.action == deployment_pb2.OBJECT_ACTION_UPDATE]
    assert [c.kind for c in updates] == ["Deployment"] and "replicas: 3" in updates[0].diff
    service = next(n for n in plan.root.children if n.kind == "service")
    assert "NoProvider" in service.message
    # The real deployment now waits for the postgres provider, which does not exist here.
    waiting = await stack.deployment_when(
        dev, lambda d: any(x.reason == "NoProvider" for x in d.status.dependencies), "NoProvider")
    dep = waiting.status.dependencies[0]
    assert dep.type == "postgres" and "postgres" in dep.message
