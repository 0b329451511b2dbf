"""Listings a user reaches for (``get deployments -o wide``, ``releases`` with ages, ``get
releases`` and ``get builds`` across a project) and deleting an application that others use:
refused with the users named, unless ``--force``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import ControlPlane

MANIFESTS = """\
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {name: lst}
spec: {type: development, autoDeploy: [{branch: main}]}
---
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {name: lst-back}
spec:
  components:
    svc: {image: "registry.example.com/lst-back:1", ports: [{name: http, port: 8080}]}
---
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {name: lst-front}
spec:
  components:
    web:
      image: registry.example.com/lst-front:1
      env: {BACK_URL: "${dependencies.back.url}"}
  dependencies:
    back: {type: application, params: {application: lst-back, component: svc}}
"""


def table(text: str) -> list[dict[str, str]]:
    """A printed table as rows keyed by header (columns split on runs of 2+ spaces)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = re.split(r"\s{2,}", lines[0].strip())
    return [dict(zip(header, re.split(r"\s{2,}", line.strip()), strict=False)) for line in lines[1:]]


@pytest.mark.timeout(400)
def test_listings_and_deleting_an_application_in_use(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    manifest = tmp_path / "lst.yaml"
    manifest.write_text(MANIFESTS)
    applied = cp.tptctl("apply", "-f", str(manifest), "--wait", "--timeout", "60s")
    assert applied.code == 0, applied.err
    for app in ("lst-back", "lst-front"):
        deployed = cp.tptctl("deploy", app, "--env", "lst", "--wait", "--timeout", "180s")
        assert deployed.code == 0, deployed.err

    wide = {row["NAME"]: row for row in table(cp.tptctl("get", "deployments", "-o", "wide").out)}
    front = wide["lst-front-lst"]
    assert front["CLUSTER"] == "local" and front["NAMESPACE"] and front["RELEASE"] == "1", wide

    history = table(cp.tptctl("releases", "lst-front", "--env", "lst").out)
    assert history and all(re.fullmatch(r"\d+[smhd]", row["AGE"]) for row in history), history

    releases = cp.tptctl("get", "releases")
    assert releases.code == 0, releases.err
    listed = {row["NAME"]: row for row in table(releases.out)}
    assert {"lst-front-lst/1", "lst-back-lst/1"} <= set(listed)
    assert listed["lst-front-lst/1"]["REASON"] == "initial" and listed["lst-front-lst/1"]["APPROVAL"], listed

    reported = cp.tptctl("build", "report", "lst-front", "--component", "web", "--image",
                         "registry.example.com/lst-front:2", "--branch", "main")
    assert reported.code == 0, reported.err
    builds = cp.tptctl("get", "builds")
    assert builds.code == 0, builds.err
    assert any(row["NAME"].startswith("lst-front/") for row in table(builds.out))

    refused = cp.tptctl("delete", "app", "lst-back")
    assert refused.code == 4
    assert "projects/acme/applications/lst-front" in refused.err
    assert "projects/acme/deployments/lst-back-lst" in refused.err
    assert "deleteTime" not in cp.tptctl("get", "app", "lst-back", "-o", "yaml").out

    refused = cp.tptctl("delete", "app", "lst-front")
    assert refused.code == 4 and "projects/acme/deployments/lst-front-lst" in refused.err
    assert "lst-back" not in refused.err.split("used by", 1)[1]
    forced = cp.tptctl("delete", "app", "lst-front", "--force")
    assert forced.code == 0, forced.err

    for deployment in ("lst-front-lst", "lst-back-lst"):
        gone = cp.tptctl("delete", "deployment", deployment, "--wait", "--timeout", "180s")
        assert gone.code == 0, gone.err
    freed = cp.tptctl("delete", "app", "lst-back", "--wait", "--timeout", "60s")
    assert freed.code == 0, freed.err  # nothing uses it any more
