"""The Helm chart: rendered by real Helm for the default, external-datastores and HA value sets,
every object validated against the Kubernetes 1.32 schemas, then installed with
``tptctl install`` into the emulator (Deployments become available, migration Jobs complete)
and removed with ``tptctl uninstall``; kubectl is the judge of what is in the cluster."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support import REPO_ROOT, require_tool
from threeport_cli.main import main
from threeport_kubesim.testing import EmulatorHandle, run_emulator
from threeport_runtime.helm import RenderedObject, load_values, render_chart

CHART = REPO_ROOT / "deploy" / "helm" / "threeport"
SERVICES = ["api-gateway", "cluster-manager", "registry", "workload-delivery"]
VALUE_SETS = {
    "default": None,
    "external": CHART / "values-external.yaml",
    "ha": CHART / "values-ha.yaml",
}
# Kinds from CRDs the chart may render; their schemas are not in kubernetes-validate.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("gateway.networking.k8s.io/v1", "GRPCRoute"),
                ("gateway.networking.k8s.io/v1", "HTTPRoute")}


def render(value_set: str, **extra: Any) -> list[RenderedObject]:
    path = VALUE_SETS[value_set]
    values = load_values(path) if path else {}
    values.update(extra)
    return render_chart(CHART, values, release="tp", namespace="threeport")


def by_kind(objects: list[RenderedObject], kind: str) -> dict[str, dict[str, Any]]:
    return {item.name: item.body for item in objects if item.kind == kind}


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_object_is_valid_kubernetes(value_set: str) -> None:
    objects = render(value_set)
    assert objects
    for item in objects:
        if (item.api_version, item.kind) in CUSTOM_KINDS:
            assert item.body["spec"], item.name
            continue
        kubernetes_validate.validate(item.body, "1.32", strict=True)


def test_gateway_api_routes_render_when_asked() -> None:
    objects = render("default", gateway={"gatewayAPI": {"enabled": True, "parentRefs": [{"name": "public"}],
                                                        "hostnames": ["threeport.example.com"]}})
    kinds = {(item.api_version, item.kind) for item in objects}
    assert {("gateway.networking.k8s.io/v1", "GRPCRoute"), ("gateway.networking.k8s.io/v1", "HTTPRoute")} <= kinds


@pytest.mark.parametrize(("value_set", "replicas"), [("default", 2), ("external", 2), ("ha", 3)])
def test_each_service_is_highly_available_and_locked_down(value_set: str, replicas: int) -> None:
    objects = render(value_set)
    deployments = by_kind(objects, "Deployment")
    assert sorted(deployments) == [f"tp-threeport-{service}" for service in SERVICES]
    for deployment in deployments.values():
        spec = deployment["spec"]["template"]["spec"]
        [container] = spec["containers"]
        assert deployment["spec"]["replicas"] == replicas
        assert container["args"][:2] == ["python", "-m"] and container["args"][3] == "serve"
        assert container["readinessProbe"]["grpc"]["port"] == 50051
        assert container["livenessProbe"]["grpc"]["port"] == 50051
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert container["resources"]["requests"]
        assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} == {
            "topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        assert {"name": "metrics", "containerPort": 9464, "protocol": "TCP"} in container["ports"]
    assert sorted(by_kind(objects, "PodDisruptionBudget")) == sorted(deployments)
    jobs = by_kind(objects, "Job")
    assert sorted(jobs) == [f"{name}-migrate" for name in sorted(deployments)]
    for job in jobs.values():
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
        assert job["spec"]["template"]["spec"]["containers"][0]["args"][3] == "migrate"
    policies = by_kind(objects, "NetworkPolicy")
    assert "tp-threeport-default-deny" in policies
    gateway_policy = policies["tp-threeport-api-gateway"]
    assert "from" not in gateway_policy["spec"]["ingress"][0]  # the only policy open to everyone
    for name, policy in policies.items():
        if name != "tp-threeport-api-gateway":
            assert all("from" in rule for rule in policy["spec"].get("ingress", [])), name


def test_a_gateway_serving_tls_itself_is_probed_by_tcp() -> None:
    objects = render("default", gateway={"tls": {"secretName": "gateway-tls", "clientCA": True}})
    deployments = by_kind(objects, "Deployment")
    gateway = deployments["tp-threeport-api-gateway"]["spec"]["template"]["spec"]
    assert gateway["containers"][0]["readinessProbe"]["tcpSocket"] == {"port": "grpc"}
    assert {"name": "tls", "secret": {"secretName": "gateway-tls"}} in gateway["volumes"]
    config = by_kind(objects, "ConfigMap")["tp-threeport-gateway"]["data"]
    assert config["THREEPORT_GATEWAY_TLS_CLIENT_CA"] == "/etc/threeport/tls/ca.crt"
    registry = deployments["tp-threeport-registry"]["spec"]["template"]["spec"]["containers"][0]
    assert registry["readinessProbe"]["grpc"] == {"port": 50051}
    for item in objects:
        if (item.api_version, item.kind) not in CUSTOM_KINDS:
            kubernetes_validate.validate(item.body, "1.32", strict=True)


def test_datastores_bundled_or_external() -> None:
    default = render("default")
    assert sorted(by_kind(default, "StatefulSet")) == ["tp-threeport-postgres", "tp-threeport-redis"]
    datastores = by_kind(default, "Secret")["tp-threeport-datastores"]["stringData"]
    assert datastores["database-url"].startswith("postgresql+psycopg://threeport:")
    external = render("external")
    assert by_kind(external, "StatefulSet") == {}
    env = by_kind(external, "Deployment")["tp-threeport-registry"]["spec"]["template"]["spec"]["containers"][0]["env"]
    database = next(e for e in env if e["name"] == "THREEPORT_DATABASE_URL")
    assert database["valueFrom"]["secretKeyRef"] == {"name": "threeport-datastores", "key": "database-url"}


def test_ha_values_expose_the_gateway_with_tls_and_monitoring() -> None:
    objects = render("ha")
    ingresses = by_kind(objects, "Ingress")
    assert sorted(ingresses) == ["tp-threeport-api-gateway", "tp-threeport-api-gateway-grpc"]
    assert ingresses["tp-threeport-api-gateway"]["spec"]["tls"] == [
        {"hosts": ["threeport.example.com"], "secretName": "threeport-tls"}]
    assert len(by_kind(objects, "ServiceMonitor")) == 4
    config = by_kind(objects, "ConfigMap")["tp-threeport"]["data"]
    assert config["THREEPORT_OTLP_ENDPOINT"] == "http://otel-collector.observability:4317"
    assert "Secret" not in {item.kind for item in objects if item.name == "tp-threeport-keys"}


def test_the_dashboard_ships_with_the_chart() -> None:
    dashboard = by_kind(render("default"), "ConfigMap")["tp-threeport-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    parsed = json.loads(dashboard["data"]["threeport-control-plane.json"])
    expressions = " ".join(t["expr"] for panel in parsed["panels"] for t in panel["targets"])
    for metric in ("threeport_reconcile_count_total", "threeport_stream_lag", "threeport_outbox_backlog",
                   "threeport_rpc_server_duration_seconds_bucket", "threeport_reconcile_queue_depth"):
        assert metric in expressions


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator([], speed=50) as handle:
        yield handle


def tptctl(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> Any:
    # Its own HOME: kubectl's discovery cache must not mix emulated clusters that reuse ports.
    env = dict(os.environ, KUBECONFIG=kubeconfig, HOME=str(Path(kubeconfig).parent))
    done = subprocess.run([require_tool(shutil.which("kubectl"), "kubectl"), *args],
                          capture_output=True, text=True, input=stdin, timeout=60, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.startswith("{") else done.stdout


DATASTORES_SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "threeport-datastores"},
                     "stringData": {"database-url": "postgresql+psycopg://threeport:pw@db.internal:5432/threeport",
                                    "redis-url": "rediss://cache.internal:6379/0"}}
KEYS_SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "threeport-keys"},
               "stringData": {"service-credential": "0123456789abcdef0123",
                              "encryption-keys": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}}
# What an operator creates before installing with these values.
PREREQUISITES = {"external": [DATASTORES_SECRET], "ha": [DATASTORES_SECRET, KEYS_SECRET]}
SERVICE_MONITOR_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_install_and_uninstall_on_the_emulator(emulator: EmulatorHandle, value_set: str, tmp_path: Path) -> None:
    # TLS: kubectl sends bearer tokens only over https.
    cluster = emulator.add_cluster(f"install-{value_set}", tls=True)
    kubeconfig = cluster.kubeconfig_path
    try:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "threeport"}}
        kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps(namespace))
        for prerequisite in PREREQUISITES.get(value_set, []):
            kubectl(kubeconfig, "-n", "threeport", "apply", "-f", "-", stdin=json.dumps(prerequisite))
        if value_set == "ha":
            kubectl(kubeconfig, "apply", "-f", "-", stdin=SERVICE_MONITOR_CRD)
        values = ["--values", str(VALUE_SETS[value_set])] if VALUE_SETS[value_set] else []

        litter_before = set(Path(tempfile.gettempdir()).glob("osrcp-*.json"))
        code, _out, err = tptctl("install", "--kubeconfig", kubeconfig, "--release", "tp", *values, "--wait")

        assert code == 0, err
        # Its discovery cache is not left in the system's temporary folder.
        assert set(Path(tempfile.gettempdir()).glob("osrcp-*.json")) == litter_before
        deployments = kubectl(kubeconfig, "-n", "threeport", "get", "deployments", "-o", "json")["items"]
        replicas = 3 if value_set == "ha" else 2
        assert sorted((d["metadata"]["name"], d["status"].get("availableReplicas")) for d in deployments) == [
            (f"tp-threeport-{service}", replicas) for service in SERVICES]
        jobs = kubectl(kubeconfig, "-n", "threeport", "get", "jobs", "-o", "json")["items"]
        assert sorted(j["metadata"]["name"] for j in jobs) == [f"tp-threeport-{s}-migrate" for s in SERVICES]
        assert all(any(c["type"] == "Complete" and c["status"] == "True" for c in j["status"]["conditions"])
                   for j in jobs)
        assert "running 4 migration jobs" in err
        if value_set == "default":
            keys = kubectl(kubeconfig, "-n", "threeport", "get", "secret", "tp-threeport-keys", "-o", "json")
            token = base64.b64decode(keys["data"]["bootstrap-token"]).decode()
            assert re.fullmatch(r"tp_[0-9a-f]{32}_[A-Za-z0-9_-]{43}", token)
            assert "get secret tp-threeport-keys -o jsonpath='{.data.bootstrap-token}'" in err
        if value_set == "ha":
            monitors = kubectl(kubeconfig, "-n", "threeport", "get", "servicemonitors", "-o", "json")["items"]
            assert len(monitors) == 4

        # Again: an upgrade keeps the generated keys and re-runs the migrations first.
        before = kubectl(kubeconfig, "-n", "threeport", "get", "secrets", "-o", "json")["items"]
        code, _out, err = tptctl("install", "--kubeconfig", kubeconfig, "--release", "tp", *values)
        assert code == 0, err
        after = kubectl(kubeconfig, "-n", "threeport", "get", "secrets", "-o", "json")["items"]
        assert {s["metadata"]["name"]: s["data"] for s in after} == {s["metadata"]["name"]: s["data"] for s in before}

        code, _out, err = tptctl("uninstall", "--kubeconfig", kubeconfig, "--release", "tp", *values)
        assert code == 0, err
        left = kubectl(kubeconfig, "-n", "threeport", "get", "deployments,services,jobs,configmaps,networkpolicies,"
                       "poddisruptionbudgets,statefulsets", "-l", "app.kubernetes.io/instance=tp", "-o", "json")
        assert left["items"] == []
        secrets = {s["metadata"]["name"] for s in
                   kubectl(kubeconfig, "-n", "threeport", "get", "secrets", "-o", "json")["items"]}
        if value_set == "default":
            assert {"tp-threeport-keys", "tp-threeport-datastores"} <= secrets
            assert "kept the Secrets" in err
    finally:
        emulator.remove_cluster(cluster.name)


def test_install_refuses_bad_values_before_touching_a_cluster(tmp_path: Path) -> None:
    bad = tmp_path / "values.yaml"
    bad.write_text("- not a mapping\n")
    code, _out, err = tptctl("install", "--kubeconfig", str(tmp_path / "none"), "--values", str(bad))
    assert code == 5 and "must be a YAML mapping" in err
    code, _out, err = tptctl("install", "--kubeconfig", str(tmp_path / "none"), "--set",
                             "bundled.postgres.enabled=false")
    assert code == 5 and "database.url" in err


def test_dry_run_prints_the_objects() -> None:
    code, out, _err = tptctl("install", "--dry-run", "--release", "tp")
    assert code == 0
    kinds = {document["kind"] for document in yaml.safe_load_all(out) if document}
    assert {"Deployment", "Job", "Secret", "NetworkPolicy", "PodDisruptionBudget", "Service"} <= kinds
