"""domain.rollout: progressing, available, or failed with the real reason."""

from __future__ import annotations

from typing import Any

from threeport_workload_delivery.domain.rollout import AVAILABLE, FAILED, PROGRESSING, assess

DESIRED: dict[str, Any] = {
    "kind": "Deployment", "metadata": {"name": "shop-api", "labels": {"threeport.io/component": "api"}},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "api", "image": "r/api:2"}]}}},
}


def live(**status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": 3}, "status": {"observedGeneration": 3, **status}}


def test_missing_then_progressing_then_available() -> None:
    assert assess([(DESIRED, None)], []).phase == PROGRESSING
    halfway = assess([(DESIRED, live(replicas=2, updatedReplicas=1, readyReplicas=1, availableReplicas=1))], [])
    assert (halfway.phase, halfway.updated, halfway.message) == (PROGRESSING, 1,
                                                                 "Deployment shop-api: 1/2 updated, 1/2 ready")
    done = assess([(DESIRED, live(replicas=2, updatedReplicas=2, readyReplicas=2, availableReplicas=2))], [])
    assert (done.phase, done.desired, done.ready) == (AVAILABLE, 2, 2)
    stale = assess([(DESIRED, {**live(replicas=2, updatedReplicas=2, availableReplicas=2),
                               "metadata": {"generation": 4}})], [])
    assert stale.phase == PROGRESSING


def test_an_image_that_cannot_be_pulled_fails_naming_the_image() -> None:
    pod = {"metadata": {"labels": {"threeport.io/component": "api"}}, "status": {"containerStatuses": [
        {"name": "api", "image": "r/api:2", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "nope"}}}]}}
    failed = assess([(DESIRED, live(replicas=2))], [pod])
    assert (failed.phase, failed.reason) == (FAILED, "ImagePullBackOff")
    assert "image r/api:2" in failed.message and "(nope)" in failed.message


def test_a_passed_progress_deadline_fails() -> None:
    stuck = live(replicas=2, conditions=[{"type": "Progressing", "status": "False",
                                          "reason": "ProgressDeadlineExceeded", "message": "too slow"}])
    failed = assess([(DESIRED, stuck)], [])
    assert (failed.phase, failed.reason, failed.message) == (FAILED, "ProgressDeadlineExceeded",
                                                             "Deployment shop-api: too slow")
