"""kubectl against the emulator, exactly as against a real cluster: multi-document apply,
server-side apply, get across namespaces and by label, rollout status, wait and delete."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from threeport_kubesim.testing import EmulatorHandle

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed (/usr/bin/kubectl)")

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web, tier: front}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web, tier: front}}
    spec:
      containers:
      - name: nginx
        image: {image}
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
  labels: {{tier: front}}
spec:
  selector: {{app: web}}
  ports:
  - port: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
data:
  mode: {mode}
"""


def _kubectl(handle: EmulatorHandle, *args: str, stdin: str | None = None) -> str:
    env = dict(os.environ, KUBECONFIG=handle.kubeconfig("main"), HOME=str(handle.kubeconfig_dir))
    result = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def manifest_ns() -> str:
    return f"kc-{uuid.uuid4().hex[:6]}"


def test_apply_rollout_wait_get_and_delete(emulator: EmulatorHandle, manifest_ns: str, tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST.format(ns=manifest_ns, image="nginx:1.27", mode="a"))
    applied = _kubectl(emulator, "apply", "-f", str(manifest))
    assert f"namespace/{manifest_ns} created" in applied and "deployment.apps/web created" in applied
    assert "service/web created" in applied and "configmap/settings created" in applied

    rolled = _kubectl(emulator, "rollout", "status", "deployment/web", "-n", manifest_ns, "--timeout=60s")
    assert "successfully rolled out" in rolled
    waited = _kubectl(
        emulator, "wait", "--for=condition=Available", "deployment/web", "-n", manifest_ns, "--timeout=60s"
    )
    assert "condition met" in waited

    # Client-side apply of a changed manifest computes a patch against last-applied-configuration.
    manifest.write_text(MANIFEST.format(ns=manifest_ns, image="nginx:1.28", mode="b"))
    reapplied = _kubectl(emulator, "apply", "-f", str(manifest))
    assert "deployment.apps/web configured" in reapplied and "service/web unchanged" in reapplied
    _kubectl(emulator, "rollout", "status", "deployment/web", "-n", manifest_ns, "--timeout=60s")
    image = _kubectl(
        emulator,
        "get",
        "deployment",
        "web",
        "-n",
        manifest_ns,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    )
    assert image == "nginx:1.28"

    all_namespaces = _kubectl(emulator, "get", "deployments", "-A")
    assert manifest_ns in all_namespaces and "web" in all_namespaces
    by_label = _kubectl(emulator, "get", "pods,services", "-n", manifest_ns, "-l", "tier=front", "-o", "name")
    names = by_label.split()
    assert "service/web" in names and len([n for n in names if n.startswith("pod/web-")]) == 2

    deleted = _kubectl(emulator, "delete", "-f", str(manifest), "--timeout=60s")
    assert f'namespace "{manifest_ns}" deleted' in deleted
    remaining = _kubectl(emulator, "get", "namespaces", "-o", "name")
    assert f"namespace/{manifest_ns}" not in remaining.split()


def test_server_side_apply_and_conflicts(emulator: EmulatorHandle, manifest_ns: str, tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST.format(ns=manifest_ns, image="nginx:1.27", mode="a"))
    applied = _kubectl(emulator, "apply", "--server-side", "--field-manager=threeport", "-f", str(manifest))
    assert "deployment.apps/web serverside-applied" in applied
    managers = _kubectl(
        emulator,
        "get",
        "configmap",
        "settings",
        "-n",
        manifest_ns,
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    )
    assert managers.split() == ["threeport"]

    manifest.write_text(MANIFEST.format(ns=manifest_ns, image="nginx:1.27", mode="other"))
    env = dict(os.environ, KUBECONFIG=emulator.kubeconfig("main"), HOME=str(emulator.kubeconfig_dir))
    conflict = subprocess.run(
        [KUBECTL, "apply", "--server-side", "--field-manager=intruder", "-f", str(manifest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert conflict.returncode != 0 and "conflict" in conflict.stderr.lower() and ".data.mode" in conflict.stderr

    forced = _kubectl(
        emulator,
        "apply",
        "--server-side",
        "--field-manager=intruder",
        "--force-conflicts",
        "-f",
        str(manifest),
    )
    assert "configmap/settings serverside-applied" in forced
    mode = _kubectl(emulator, "get", "configmap", "settings", "-n", manifest_ns, "-o", "jsonpath={.data.mode}")
    assert mode == "other"
    _kubectl(emulator, "delete", "namespace", manifest_ns, "--timeout=60s")


def test_set_image_and_rollout_undo_reuse_the_old_replicaset(
    emulator: EmulatorHandle, manifest_ns: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST.format(ns=manifest_ns, image="nginx:1.27", mode="a"))
    _kubectl(emulator, "apply", "-f", str(manifest))
    _kubectl(emulator, "rollout", "status", "deployment/web", "-n", manifest_ns, "--timeout=60s")
    first_rs = _kubectl(emulator, "get", "rs", "-n", manifest_ns, "-o", "name").split()
    _kubectl(emulator, "set", "image", "deployment/web", "nginx=nginx:1.28", "-n", manifest_ns)
    _kubectl(emulator, "rollout", "status", "deployment/web", "-n", manifest_ns, "--timeout=60s")
    assert "rolled back" in _kubectl(emulator, "rollout", "undo", "deployment/web", "-n", manifest_ns)
    _kubectl(emulator, "rollout", "status", "deployment/web", "-n", manifest_ns, "--timeout=60s")
    replicas = _kubectl(
        emulator,
        "get",
        *first_rs,
        "-n",
        manifest_ns,
        "-o",
        "jsonpath={.spec.replicas} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
    )
    assert replicas == "2 3"
    history = _kubectl(emulator, "rollout", "history", "deployment/web", "-n", manifest_ns)
    assert "3 " in history
    _kubectl(emulator, "delete", "namespace", manifest_ns, "--timeout=60s")


def test_client_side_then_server_side_apply_migrates_ownership(
    emulator: EmulatorHandle, manifest_ns: str, tmp_path: Path
) -> None:
    """Issue 10 item 12: `kubectl apply` then `kubectl apply --server-side` with a changed image
    succeeds, as on a real API server, and the client-side apply manager is gone afterwards."""
    manifest = tmp_path / "app.yaml"
    manifest.write_text(MANIFEST.format(ns=manifest_ns, image="nginx:1.27", mode="a"))
    _kubectl(emulator, "apply", "-f", str(manifest))
    manifest.write_text(MANIFEST.format(ns=manifest_ns, image="nginx:1.28", mode="b"))
    applied = _kubectl(emulator, "apply", "--server-side", "-f", str(manifest))
    assert "deployment.apps/web serverside-applied" in applied
    shown = _kubectl(emulator, "get", "deployment/web", "-n", manifest_ns, "-o", "json", "--show-managed-fields")
    live = json.loads(shown)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    managers = {(entry["manager"], entry["operation"]) for entry in live["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers and not any(m == "kubectl-client-side-apply" for m, _ in managers)
    last_applied = json.loads(live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last_applied["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    # Client-side apply keeps working afterwards, diffing against the updated annotation.
    manifest.write_text(MANIFEST.format(ns=manifest_ns, image="nginx:1.29", mode="b"))
    assert "deployment.apps/web configured" in _kubectl(emulator, "apply", "-f", str(manifest))


def test_server_side_apply_without_the_probe_removes_it(
    emulator: EmulatorHandle, manifest_ns: str, tmp_path: Path
) -> None:
    """Issue 17 item 2 with kubectl: the probe goes as a whole, not leaving `httpGet: {}`."""
    manifest = tmp_path / "app.yaml"
    with_probe = MANIFEST.format(ns=manifest_ns, image="nginx:1.27", mode="a").replace(
        "        - containerPort: 80\n",
        "        - containerPort: 80\n        readinessProbe:\n          httpGet: {path: /, port: 80}\n",
    )
    assert "readinessProbe" in with_probe
    manifest.write_text(with_probe)
    _kubectl(emulator, "apply", "--server-side", "-f", str(manifest))
    manifest.write_text(MANIFEST.format(ns=manifest_ns, image="nginx:1.28", mode="a"))
    _kubectl(emulator, "apply", "--server-side", "-f", str(manifest))
    live = json.loads(_kubectl(emulator, "get", "deployment/web", "-n", manifest_ns, "-o", "json"))
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.28" and "readinessProbe" not in container


def test_get_watch_prints_one_header_and_the_kinds_columns(emulator: EmulatorHandle, manifest_ns: str) -> None:
    """`kubectl get -w` prints the header once (watch events are Tables; only the first carries
    the columns, as from kube-apiserver) and a ConfigMap's DATA column, as against a real cluster."""
    namespace = f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {manifest_ns}}}\n"
    config_map = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: %s}}\n"
                  "data: {{a: '1', b: '2'}}\n")
    _kubectl(emulator, "apply", "-f", "-", stdin=namespace)
    _kubectl(emulator, "apply", "-f", "-", stdin=config_map.format(name="first") % manifest_ns)
    env = dict(os.environ, KUBECONFIG=emulator.kubeconfig("main"), HOME=str(emulator.kubeconfig_dir))
    with subprocess.Popen([KUBECTL, "get", "configmaps", "-n", manifest_ns, "-w"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as watching:
        try:
            assert watching.stdout is not None
            lines = [watching.stdout.readline(), watching.stdout.readline()]  # header, first
            _kubectl(emulator, "apply", "-f", "-", stdin=config_map.format(name="second") % manifest_ns)
            _kubectl(emulator, "delete", "configmap", "first", "-n", manifest_ns)
            lines += [watching.stdout.readline(), watching.stdout.readline()]  # second, first again
        finally:
            watching.kill()
    rows = [line.split() for line in lines]
    assert rows[0] == ["NAME", "DATA", "AGE"], lines
    assert [row[:2] for row in rows[1:]] == [["first", "2"], ["second", "2"], ["first", "2"]], lines
