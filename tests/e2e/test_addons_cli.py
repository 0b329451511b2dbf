"""The addon catalog through tptctl and the gateway: the built-in entries, an operator's
installation applied from the samples, and a custom type the registry then accepts."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ControlPlane
from tests.support import REPO_ROOT

EXAMPLES = REPO_ROOT / "deploy" / "examples" / "addons"
# First in the suite by name, so it also pays for the session's `tptctl up` (six services).
pytestmark = pytest.mark.timeout(300)


def wait_for_output(control_plane: ControlPlane, args: tuple[str, ...], text: str, within: float = 60.0) -> str:
    deadline = time.monotonic() + within
    out = ""
    while time.monotonic() < deadline:
        out = control_plane.tptctl(*args).out
        if text in out:
            return out
        time.sleep(0.3)
    raise AssertionError(f"`tptctl {' '.join(args)}` never showed {text!r}; last:\n{out}")


def test_the_addon_catalog_from_the_cli(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    listed = wait_for_output(cp, ("get", "addons"), "prometheus")
    for addon in (
        "ingress-nginx",
        "cert-manager",
        "external-dns",
        "prometheus",
        "loki",
        "fluent-bit",
        "external-secrets",
    ):
        assert addon in listed
    described = cp.tptctl("describe", "addon", "ingress-nginx")
    assert described.code == 0 and "addons/cert-manager" in described.out and "ingressClass" in described.out

    applied = cp.tptctl("apply", "-f", str(EXAMPLES / "metrics-installation.yaml"), "--wait", "--timeout", "120s")
    assert applied.code == 0, applied.err
    installations = cp.tptctl("get", "installations")
    assert "metrics-local" in installations.out and "READY" in installations.out
    shown = cp.tptctl("describe", "installation", "metrics-local")
    assert "Installed" in shown.out and "grafanaUrl" in shown.out

    # A catalog entry that fails its own schema is refused with the field named, exit code 5.
    broken = tmp_path / "broken.yaml"
    broken.write_text((EXAMPLES / "kafka.yaml").read_text().replace("replicaCount: 1}", "replicaCount: 0}"))
    refused = cp.tptctl("apply", "-f", str(broken))
    assert refused.code == 5 and "default_values.controller.replicaCount" in refused.err

    assert cp.tptctl("apply", "-f", str(EXAMPLES / "kafka.yaml")).code == 0
    app = tmp_path / "app.yaml"
    app.write_text(
        "apiVersion: threeport.io/v1alpha1\nkind: Application\nmetadata: {name: kafka-consumer}\nspec:\n"
        "  components:\n    api:\n      image: registry.example.com/kafka-consumer/api:1.0.0\n"
        "      env: {BROKERS: '${dependencies.stream.bootstrap}'}\n"
        "  dependencies: {stream: {type: kafka}}\n"
    )
    deadline = time.monotonic() + 60
    while (outcome := cp.tptctl("apply", "-f", str(app))).code != 0 and time.monotonic() < deadline:
        time.sleep(0.5)  # the registry learns the new type from the addon-manager's events
    assert outcome.code == 0, outcome.err
    # Leave the shared control plane as found: other e2e tests use the same project.
    assert cp.tptctl("delete", "-f", str(app), "--wait", "--timeout", "60s").code == 0
    assert cp.tptctl("delete", "installation", "metrics-local", "--wait", "--timeout", "120s").code == 0


def test_the_readme_ingress_step(control_plane: ControlPlane) -> None:
    """The README tour's ingress step, command by command: plan names what would be installed,
    deploy installs it, and the Ingress gets its host from the environment's domain."""
    cp = control_plane
    assert cp.tptctl("apply", "-f", str(EXAMPLES / "web.yaml")).code == 0
    planned = cp.tptctl("plan", "storefront", "--env", "preview")
    assert planned.code == 0, planned.err
    assert "would install ingress-nginx, cert-manager" in planned.out, planned.out
    deployed = cp.tptctl("deploy", "storefront", "--env", "preview", "--wait", "--timeout", "240s")
    assert deployed.code == 0, deployed.err + deployed.out
    installations = cp.tptctl("get", "installations").out
    for addon in ("ingress-nginx", "cert-manager", "fluent-bit", "loki"):
        assert addon in installations
    [kubeconfig] = sorted((cp.state_dir / "kubesim" / "kubeconfigs").glob("*.kubeconfig"))[:1]
    listed = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "get", "ingress", "-A", "-o", "json"],
                            capture_output=True, text=True, timeout=60, check=True)
    hosts = [rule["host"] for item in json.loads(listed.stdout)["items"] for rule in item["spec"]["rules"]]
    assert "storefront-preview.preview.example.com" in hosts, hosts
    # Leave the shared control plane as found.
    assert cp.tptctl("delete", "deployment", "storefront-preview", "--wait", "--timeout", "120s").code == 0
    assert cp.tptctl("delete", "-f", str(EXAMPLES / "web.yaml"), "--wait", "--timeout", "60s").code == 0
