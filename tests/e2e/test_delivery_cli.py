"""The README's tour as a test: deploy the sample to the emulated cluster through tptctl and the
gateway, report a build, promote with approval, roll back, plan, and delete in order."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.conftest import ControlPlane
from tests.support import REPO_ROOT

EXAMPLES = REPO_ROOT / "deploy" / "examples" / "delivery"


def current_image(control_plane: ControlPlane, deployment: str) -> str:
    with control_plane.client() as client:
        found = client.deployment.get_deployment(name=f"projects/acme/deployments/{deployment}")
        release = client.release.get_release(name=f"{found.name}/releases/{found.status.current_release}")
        return release.images["api"].image


def wait_for(check: object, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_tour(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    applied = cp.tptctl("apply", "-f", str(EXAMPLES / "applications.yaml"), "-f",
                        str(EXAMPLES / "environments.yaml"), "--wait", "--timeout", "60s")
    assert applied.code == 0, applied.err
    for app in ("rates", "shop"):
        deployed = cp.tptctl("deploy", app, "--env", "dev", "--wait", "--timeout", "120s")
        assert deployed.code == 0, deployed.err
    listed = cp.tptctl("get", "deployments")
    assert "shop-dev" in listed.out and listed.out.count("READY") >= 2
    described = cp.tptctl("describe", "deployment", "shop-dev")
    for condition in ("Placed", "DependenciesReady", "Applied", "Available"):
        assert condition in described.out

    reported = cp.tptctl("build", "report", "shop", "--component", "api", "--image",
                         "registry.example.com/shop/api:1.1.0", "--branch", "main", "--commit", "1a2b3c4")
    assert reported.code == 0, reported.err
    assert "shop-dev" in reported.out and "shop-prod" not in reported.out
    wait_for(lambda: current_image(cp, "shop-dev").endswith(":1.1.0"), "the build to roll out to dev")

    for app in ("rates", "shop"):
        assert cp.tptctl("promote", app, "--from", "dev", "--to", "prod").code == 0
        approved = cp.tptctl("approve", "deployment", f"{app}-prod", "--wait", "--timeout", "120s")
        assert approved.code == 0, approved.err
    assert current_image(cp, "shop-prod").endswith(":1.1.0")

    rolled = cp.tptctl("rollback", "shop", "--env", "dev", "--to-release", "1", "--wait", "--timeout", "120s")
    assert rolled.code == 0 and "data is not rolled back" in rolled.err + rolled.out
    assert current_image(cp, "shop-dev").endswith(":1.0.0")
    releases = cp.tptctl("releases", "shop", "--env", "dev").out
    assert [line.split()[1] for line in releases.splitlines()[1:]] == ["initial", "build", "rollback"]

    plan = cp.tptctl("plan", "shop", "--env", "dev")
    assert plan.code == 0 and "unchanged" in plan.out

    deleted = cp.tptctl("delete", "deployment", "shop-dev", "--wait", "--timeout", "120s")
    assert deleted.code == 0, deleted.err
    assert cp.tptctl("get", "deployment", "shop-dev").code == 3
