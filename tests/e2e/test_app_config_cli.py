"""Issue 16 items 2, 3, 4 and 7 through tptctl, the gateway, the services and the emulated cluster
(the control plane ``tptctl up`` started): an environment's override reaches only that environment
and ``plan`` says where each value came from; a secret set with tptctl reaches the pod through a
Secret, rolls it when changed, and appears in no response or log; a private image gets its pull
secret; ``tptctl logs`` prints and ``-f`` follows a pod."""

from __future__ import annotations

import base64
import io
import json
import os
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as kube

from tests.e2e.conftest import ControlPlane, namespace_of
from threeport.common.v1alpha1 import state_pb2
from threeport.delivery.v1alpha1 import secret_pb2
from threeport.sdk import InvalidArgumentError
from threeport_cli.local.statedir import StateDir
from threeport_cli.main import main
from threeport_kubesim.control import ControlClient

APP = "cfgapp"
# Starting the shared control plane (when these run first) and two deployments take a while on a
# loaded machine.
pytestmark = pytest.mark.timeout(400)

MANIFESTS = f"""\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {{name: {APP}, project: acme}}
spec:
  components:
    api:
      image: registry.example.com/cfgapp/api:1.0.0
      # The emulator logs a shell script's echo lines (its README: simulation knobs).
      command: [sh, -c, "echo starting api image=registry.example.com/cfgapp/api:1.0.0; exec /app/api"]
      ports: [{{name: http, port: 8080}}]
      env: {{LOG_LEVEL: info, MODE: web}}
      resources: {{cpu: 100m, memory: 128Mi}}
---
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {{name: cfg-dev, project: acme}}
spec: {{type: development}}
---
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {{name: cfg-prod, project: acme}}
spec:
  type: production
  overrides:
  - {{application: {APP}, component: api, replicas: 2, env: {{LOG_LEVEL: debug}}, resources: {{memory: 256Mi}}}}
"""


def core_api(control_plane: ControlPlane) -> kube.CoreV1Api:
    """A client of the emulated cluster ``local`` runs on, for looking at what was rendered."""
    kubesim = StateDir(control_plane.state_dir).load().find("kubesim")
    assert kubesim is not None
    with control_plane.client() as client:
        emulated = client.cluster.get_cluster(name="clusters/local").status.infrastructure.removeprefix("sim/")
    info = ControlClient(kubesim.url).get_cluster(emulated)
    configuration = kube.Configuration()
    configuration.host = info.server
    configuration.api_key = {"authorization": f"Bearer {info.token}"}
    configuration.verify_ssl = False
    return kube.CoreV1Api(kube.ApiClient(configuration))


def apps_of(core: kube.CoreV1Api) -> kube.AppsV1Api:
    return kube.AppsV1Api(core.api_client)


@pytest.fixture(scope="module")
def deployed(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The application deployed to both environments; the manifest's path."""
    manifest = tmp_path_factory.mktemp("cfg") / "cfg.yaml"
    manifest.write_text(MANIFESTS)
    applied = control_plane.tptctl("apply", "-f", str(manifest))
    assert applied.code == 0, applied.err
    for env in ("cfg-dev", "cfg-prod"):
        done = control_plane.tptctl("deploy", APP, "--env", env, "--wait", "--timeout", "120s")
        assert done.code == 0, done.err
    return manifest


def test_an_environment_override_reaches_only_that_environment(control_plane: ControlPlane, deployed: Path) -> None:
    cp = control_plane
    manifest = deployed
    core = core_api(cp)
    apps = apps_of(core)
    prod: Any = apps.read_namespaced_deployment(f"{APP}-api", namespace_of(cp, f"{APP}-cfg-prod"))
    dev: Any = apps.read_namespaced_deployment(f"{APP}-api", namespace_of(cp, f"{APP}-cfg-dev"))
    assert (prod.spec.replicas, dev.spec.replicas) == (2, 1)
    assert prod.spec.template.spec.containers[0].resources.requests == {"cpu": "100m", "memory": "256Mi"}
    assert dev.spec.template.spec.containers[0].resources.requests == {"cpu": "100m", "memory": "128Mi"}
    prod_env: Any = core.read_namespaced_config_map(f"{APP}-api-env", namespace_of(cp, f"{APP}-cfg-prod")).data
    dev_env: Any = core.read_namespaced_config_map(f"{APP}-api-env", namespace_of(cp, f"{APP}-cfg-dev")).data
    assert (prod_env["LOG_LEVEL"], dev_env["LOG_LEVEL"]) == ("debug", "info")
    assert prod_env["MODE"] == dev_env["MODE"] == "web"

    plan = cp.tptctl("plan", APP, "--env", "cfg-prod")
    assert plan.code == 0, plan.err
    rows = [line.split() for line in plan.out.splitlines()]
    assert ["api", "replicas", "2", "environment/cfg-prod"] in rows
    assert ["api", "env.LOG_LEVEL", "debug", "environment/cfg-prod"] in rows
    assert ["api", "env.MODE", "web", "application"] in rows
    assert ["api", "resources.memory", "256Mi", "environment/cfg-prod"] in rows

    # An override of a component the application does not have is refused, and nothing changes.
    manifest.write_text(MANIFESTS.replace("component: api, replicas: 2", "component: web, replicas: 2"))
    refused = cp.tptctl("apply", "-f", str(manifest))
    assert refused.code == 5, refused.out + refused.err
    assert "overrides[0].component" in refused.err and "no component 'web'" in refused.err
    with cp.client() as client:
        stored = client.environment.get_environment(name="projects/acme/environments/cfg-prod")
    assert stored.spec.overrides[0].component == "api"


def _follow(argv: list[str], sink: io.StringIO, done: threading.Event, config_file: Path) -> None:
    os.environ["THREEPORT_CONFIG"] = str(config_file)
    with redirect_stdout(sink):
        try:
            main(argv)
        finally:
            done.set()


def test_tptctl_logs_prints_and_follows_a_pod(control_plane: ControlPlane, deployed: Path) -> None:
    cp = control_plane
    printed = cp.tptctl("logs", f"{APP}-cfg-dev", "--component", "api")
    assert printed.code == 0, printed.err
    first = printed.out.splitlines()[0]
    assert first.startswith(f"[{APP}-api-") and "starting api" in first
    assert "image=registry.example.com/cfgapp/api:1.0.0" in first
    tail = cp.tptctl("logs", f"{APP}-cfg-dev", "--tail", "1", "--no-prefix", "--timestamps")
    assert tail.code == 0 and len(tail.out.splitlines()) == 1 and tail.out[:4].isdigit()

    # -f keeps printing the lines the container writes until the pod goes away: the emulator's
    # knob makes it write one every simulated second.
    core = core_api(cp)
    for pod in core.list_namespaced_pod(namespace_of(cp, f"{APP}-cfg-dev")).items:
        core.patch_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                  {"metadata": {"annotations": {"kubesim.threeport.io/log-every": "1"}}})
    sink, done = io.StringIO(), threading.Event()
    follower = threading.Thread(target=_follow, daemon=True, args=(
        ["logs", f"{APP}-cfg-dev", "-f", "--tail", "0", "--no-prefix"], sink, done, cp.config_file))
    follower.start()
    deadline = time.monotonic() + 60
    while sink.getvalue().count("api: tick") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    beats = [line for line in sink.getvalue().splitlines() if "api: tick" in line]
    assert len(beats) >= 2, sink.getvalue()
    numbers = [int(line.rsplit(" ", 1)[1]) for line in beats]
    assert numbers == sorted(numbers) and numbers[1] == numbers[0] + 1
    pods: list[Any] = core.list_namespaced_pod(namespace_of(cp, f"{APP}-cfg-dev")).items
    for pod in pods:
        core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
    assert done.wait(60), "the follow ends when its pod is gone"

    missing = cp.tptctl("logs", "nope-cfg-dev")
    assert missing.code == 3, missing.err


SECRET_APP = "secapp"
SECRET_VALUE = "sk_live_e2e_Zq8v3NfT5wYc"
NEW_SECRET_VALUE = "sk_live_e2e_second_Hb7mKp2x"
PASSWORD = "regpass_e2e_Xy4dQ9vL"
SECRET_MANIFESTS = f"""\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {{name: {SECRET_APP}, project: acme}}
spec:
  registryCredentials: [private-reg]
  components:
    api:
      image: registry.example.com/private/secapp:1.0.0
      env: {{MODE: web}}
      secretEnv: {{API_KEY: {{secret: stripe-key}}}}
---
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {{name: sec-dev, project: acme}}
spec: {{type: development}}
"""


def _with_stdin(monkeypatch: pytest.MonkeyPatch, cp: ControlPlane, text: str, *args: str) -> Any:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    return cp.tptctl(*args)


def test_a_secret_and_a_pull_secret_reach_the_pod_and_nowhere_else(
        control_plane: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cp = control_plane
    manifest = tmp_path / "secapp.yaml"
    manifest.write_text(SECRET_MANIFESTS)
    shown: list[str] = []

    def run(*args: str, stdin: str | None = None) -> Any:
        outcome = _with_stdin(monkeypatch, cp, stdin, *args) if stdin is not None else cp.tptctl(*args)
        shown.append(outcome.out + outcome.err)
        assert outcome.code == 0, outcome.err
        return outcome

    run("apply", "-f", str(manifest))
    run("registry-credential", "add", "private-reg", "--server", "registry.example.com", "--username", "bot",
        "--password-stdin", stdin=PASSWORD + "\n")
    set_ = run("secret", "set", SECRET_APP, "stripe-key", "--env", "sec-dev", stdin=SECRET_VALUE + "\n")
    assert "version 1" in set_.out
    run("deploy", SECRET_APP, "--env", "sec-dev", "--wait", "--timeout", "120s")

    core = core_api(cp)
    namespace = namespace_of(cp, f"{SECRET_APP}-sec-dev")
    stored: Any = core.read_namespaced_secret(f"{SECRET_APP}-api-secret-env", namespace)
    assert base64.b64decode(stored.data["stripe-key"]).decode() == SECRET_VALUE
    workload: Any = apps_of(core).read_namespaced_deployment(f"{SECRET_APP}-api", namespace)
    pod_spec = workload.spec.template.spec
    env = {e.name: e.value_from.secret_key_ref for e in pod_spec.containers[0].env}
    assert (env["API_KEY"].name, env["API_KEY"].key) == (f"{SECRET_APP}-api-secret-env", "stripe-key")
    assert [s.name for s in pod_spec.image_pull_secrets] == [f"{SECRET_APP}-pull-private-reg"]
    pull: Any = core.read_namespaced_secret(f"{SECRET_APP}-pull-private-reg", namespace)
    assert pull.type == "kubernetes.io/dockerconfigjson"
    auths = json.loads(base64.b64decode(pull.data[".dockerconfigjson"]))["auths"]
    assert auths["registry.example.com"]["username"] == "bot" and auths["registry.example.com"]["password"] == PASSWORD
    first_hash = workload.spec.template.metadata.annotations["threeport.io/config-hash"]

    # A new value is a new version and rolls the pods (the template's hash changes).
    assert "version 2" in run("secret", "set", SECRET_APP, "stripe-key", "--env", "sec-dev",
                              stdin=NEW_SECRET_VALUE).out
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        workload = apps_of(core).read_namespaced_deployment(f"{SECRET_APP}-api", namespace)
        if workload.spec.template.metadata.annotations["threeport.io/config-hash"] != first_hash:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the pods did not roll after the secret changed")
    stored = core.read_namespaced_secret(f"{SECRET_APP}-api-secret-env", namespace)
    assert base64.b64decode(stored.data["stripe-key"]).decode() == NEW_SECRET_VALUE

    # Names and versions are shown; the values never are: not by the CLI, the API or any log.
    listed = run("secret", "list", SECRET_APP, "--env", "sec-dev")
    assert "stripe-key" in listed.out and " 2 " in listed.out
    run("registry-credential", "list")
    run("registry-credential", "get", "private-reg")
    run("describe", "deployment", f"{SECRET_APP}-sec-dev")
    run("get", "deployment", f"{SECRET_APP}-sec-dev", "-o", "yaml")
    run("releases", SECRET_APP, "--env", "sec-dev")
    run("plan", SECRET_APP, "--env", "sec-dev")
    run("events")
    with cp.client() as client:
        deployment = f"projects/acme/deployments/{SECRET_APP}-sec-dev"
        got = client.secret.get_secret(name=f"{deployment}/secrets/stripe-key")
        assert got.state == state_pb2.STATE_READY and got.generation == 2 and not got.spec.value
        answers = [str(got),
                   str(list(client.secret.list_secrets(parent=deployment))),
                   str(list(client.registry_credential.list_registry_credentials(parent="projects/acme"))),
                   str(list(client.release.list_releases(parent=deployment)))]
    # Bad input names the field and stores nothing.
    bad = _with_stdin(monkeypatch, cp, PASSWORD, "registry-credential", "add", "bad-reg", "--server",
                      "https://registry.example.com", "--username", "bot", "--password-stdin")
    shown.append(bad.out + bad.err)
    assert bad.code == 5 and "registry_credential.spec.server" in bad.err
    assert cp.tptctl("registry-credential", "get", "bad-reg").code == 3
    with cp.client() as client, pytest.raises(InvalidArgumentError) as empty:
        client.secret.create_secret(parent=deployment, secret_id="empty", secret=secret_pb2.Secret())
    assert [v.field for v in empty.value.field_violations] == ["secret.spec.value"]
    assert "empty" not in run("secret", "list", SECRET_APP, "--env", "sec-dev").out
    logs = [path.read_text(errors="replace") for path in (cp.state_dir / "logs").glob("*.log")]
    for text in [*shown, *answers, *logs]:
        for value in (SECRET_VALUE, NEW_SECRET_VALUE, PASSWORD):
            assert value not in text
            assert base64.b64encode(value.encode()).decode() not in text
