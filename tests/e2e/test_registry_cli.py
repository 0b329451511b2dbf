"""The registry through the CLI and the gateway: apply/get/describe/diff/delete, dry runs,
pagination, label selectors, Watch, optimistic concurrency, Score, and a catalogue of bad
manifests that are refused with exit code 5, the field named, and nothing stored."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ControlPlane
from threeport.registry.v1alpha1 import application_pb2
from threeport.sdk import AbortedError

APP = """\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {{name: {name}, labels: {{team: {team}}}}}
spec:
  components:
    api:
      image: registry.example.com/{name}/api:1.0.0
      replicas: 2
      ports: [{{name: http, port: 8080}}]
      env: {{LOG_LEVEL: info, DATABASE_URL: "${{dependencies.db.url}}"}}
      resources: {{cpu: 200m, memory: 256Mi}}
      probes: {{readiness: {{http: {{path: /healthz, port: http}}}}}}
  dependencies:
    db: {{type: postgres, class: small}}
"""
ENVIRONMENT = """\
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  type: staging
  autoDeploy: [{branch: main}]
"""


def write(tmp_path: Path, text: str, name: str = "manifest.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_apply_get_describe_diff_and_delete(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    manifest = write(tmp_path, APP.format(name="ledger", team="payments") + "---\n" + ENVIRONMENT)

    applied = cp.tptctl("apply", "-f", manifest, "--wait", "--timeout", "60s")
    assert applied.code == 0, applied.err
    assert applied.out.splitlines() == ["application/ledger created", "environment/staging created"]
    assert cp.tptctl("apply", "-f", manifest).out.splitlines() == [
        "application/ledger unchanged", "environment/staging unchanged"]

    listed = cp.tptctl("get", "apps")
    assert listed.code == 0 and "ledger" in listed.out and "READY" in listed.out
    as_json = cp.tptctl("get", "app", "ledger", "-o", "json")
    assert '"name": "projects/acme/applications/ledger"' in as_json.out
    described = cp.tptctl("describe", "application", "ledger")
    assert "Conditions:" in described.out and "Accepted" in described.out and "Events:" in described.out

    changed = write(tmp_path, APP.format(name="ledger", team="payments").replace("1.0.0", "1.1.0"), "v2.yaml")
    diff = cp.tptctl("diff", "-f", changed)
    assert diff.code == 1 and "+      image: registry.example.com/ledger/api:1.1.0" in diff.out
    dry = cp.tptctl("apply", "-f", changed, "--dry-run")
    assert dry.out.strip() == "application/ledger configured (dry run)"
    assert "1.0.0" in cp.tptctl("get", "app", "ledger", "-o", "yaml").out
    assert cp.tptctl("apply", "-f", changed).out.strip() == "application/ledger configured"
    assert cp.tptctl("diff", "-f", changed).code == 0

    deleted = cp.tptctl("delete", "-f", manifest, "--wait", "--timeout", "60s")
    assert deleted.code == 0, deleted.err
    assert cp.tptctl("get", "app", "ledger").code == 3


def test_dry_run_creates_nothing(control_plane: ControlPlane, tmp_path: Path) -> None:
    manifest = write(tmp_path, APP.format(name="phantom", team="x"))
    assert control_plane.tptctl("apply", "-f", manifest, "--dry-run").out.strip() == (
        "application/phantom created (dry run)")
    assert control_plane.tptctl("get", "app", "phantom").code == 3


def test_pagination_and_label_selectors(control_plane: ControlPlane, tmp_path: Path) -> None:
    documents = [APP.format(name=f"svc{index:02d}", team="even" if index % 2 == 0 else "odd") for index in range(56)]
    assert control_plane.tptctl("apply", "-f", write(tmp_path, "---\n".join(documents))).code == 0

    names = control_plane.tptctl("get", "apps", "-o", "name").out.split()
    assert len([n for n in names if "/svc" in n]) == 56, "listing must cross the 50-item page boundary"
    even = control_plane.tptctl("get", "apps", "-l", "team=even", "-o", "name").out.split()
    assert len(even) == 28 and all(int(n[-2:]) % 2 == 0 for n in even)
    odd_not_even = control_plane.tptctl("get", "apps", "-l", "team!=even", "-o", "name").out.split()
    assert not set(even) & set(odd_not_even)


def test_watch_streams_changes_through_the_gateway(control_plane: ControlPlane, tmp_path: Path) -> None:
    with control_plane.client() as client:
        seen: list[str] = []

        def follow() -> None:
            only = 'name = "projects/acme/applications/watched"'
            for event in client.application.watch_applications(parent="projects/acme", filter=only):
                if event.application.name:
                    seen.append(event.application.name)
                    return

        watcher = threading.Thread(target=follow, daemon=True)
        watcher.start()
        time.sleep(0.5)
        assert control_plane.tptctl("apply", "-f", write(tmp_path, APP.format(name="watched", team="w"))).code == 0
        watcher.join(30)
        assert seen == ["projects/acme/applications/watched"]


def test_concurrent_updates_conflict_through_the_gateway(control_plane: ControlPlane, tmp_path: Path) -> None:
    assert control_plane.tptctl("apply", "-f", write(tmp_path, APP.format(name="contended", team="t")),
                                "--wait", "--timeout", "60s").code == 0
    with control_plane.client() as client:
        read = client.application.get_application(name="projects/acme/applications/contended")
        first, second = application_pb2.Application(), application_pb2.Application()
        first.CopyFrom(read)
        second.CopyFrom(read)
        first.spec.components["api"].replicas = 3
        second.spec.components["api"].replicas = 4
        client.application.update_application(application=first)
        with pytest.raises(AbortedError, match="changed since it was read"):
            client.application.update_application(application=second)


def test_score_files_are_applied_as_applications(control_plane: ControlPlane, tmp_path: Path) -> None:
    score = """\
apiVersion: score.dev/v1b1
metadata: {name: scored}
containers:
  web:
    image: nginx:1.27
    variables: {DB_HOST: "${resources.db.host}"}
service:
  ports: {http: {port: 80, targetPort: 8080}}
resources:
  db: {type: postgres}
"""
    applied = control_plane.tptctl("apply", "-f", write(tmp_path, score))
    assert applied.code == 0, applied.err
    shown = control_plane.tptctl("get", "app", "scored", "-o", "yaml").out
    assert "${dependencies.db.host}" in shown and "nginx:1.27" in shown


def test_roles_are_enforced_for_cli_users(control_plane: ControlPlane, tmp_path: Path) -> None:
    created = control_plane.tptctl("token", "create", "reader", "-p", "acme", "--role", "viewer")
    assert created.code == 0, created.err
    token = created.out.strip()
    state = control_plane.tptctl("config", "get-contexts").out
    server = next(line.split()[2] for line in state.splitlines() if line.startswith("*"))
    assert control_plane.tptctl("login", "--server", server, "--token", token, "--context", "reader",
                                "-p", "acme").code == 0
    assert control_plane.tptctl("config", "use-context", "local").code == 0

    refused = control_plane.tptctl("apply", "-f", write(tmp_path, APP.format(name="forbidden", team="x")),
                                   context="reader")
    assert refused.code == 6 and "hint:" in refused.err
    assert control_plane.tptctl("get", "apps", context="reader").code == 0
    assert control_plane.tptctl("get", "app", "forbidden").code == 3


BAD_MANIFESTS = [
    # (case, manifest text, text the error must contain)
    ("yaml syntax", "kind: [", "not valid YAML"),
    ("api version", APP.format(name="b", team="t").replace("threeport.io/v1alpha1", "v1"), "apiVersion"),
    ("unknown kind", APP.format(name="b", team="t").replace("kind: Application", "kind: Aplication"), "unknown kind"),
    ("missing name", APP.format(name="b", team="t").replace("name: b, ", ""), "metadata.name"),
    ("unknown metadata field", APP.format(name="b", team="t").replace("labels:", "lables:"), "metadata.lables"),
    ("unknown top-level field", "status: {}\n" + APP.format(name="b", team="t"), "unknown top-level field"),
    ("missing spec", APP.format(name="b", team="t").split("spec:")[0], "spec: required"),
    ("unknown spec field", APP.format(name="b", team="t").replace("replicas: 2", "replica: 2"), "replica"),
    ("replicas not a number", APP.format(name="b", team="t").replace("replicas: 2", "replicas: two"), "replicas"),
    ("ports not a list", APP.format(name="b", team="t").replace("ports: [{name: http, port: 8080}]", "ports: http"),
     "ports"),
    ("bad id", APP.format(name="Bad_Name", team="t"), "metadata.name: 'Bad_Name'"),
    ("no components", APP.format(name="b", team="t").split("  components:")[0] + "  components: {}\n",
     "components"),
    ("bad component name", APP.format(name="b", team="t").replace("    api:", "    API:"), "components[API]"),
    ("image reference", APP.format(name="b", team="t").replace("registry.example.com/b/api:1.0.0", "Not An Image"),
     "image"),
    ("port out of range", APP.format(name="b", team="t").replace("port: 8080", "port: 80800"), "ports[0].port"),
    ("port name too long", APP.format(name="b", team="t").replace("name: http,", "name: a-very-long-port-name,"),
     "ports[0].name"),
    ("protocol", APP.format(name="b", team="t").replace("port: 8080}", "port: 8080, protocol: HTTP}"),
     "protocol"),
    ("env name", APP.format(name="b", team="t").replace("LOG_LEVEL", "1LOG"), "env[1LOG]"),
    ("cpu quantity", APP.format(name="b", team="t").replace("cpu: 200m", "cpu: lots"), "resources.cpu"),
    ("memory quantity", APP.format(name="b", team="t").replace("memory: 256Mi", "memory: 256MB"),
     "resources.memory"),
    ("probe port", APP.format(name="b", team="t").replace("port: http}}", "port: grpc}}"), "readiness"),
    ("probe path", APP.format(name="b", team="t").replace("path: /healthz", "path: healthz"), "path"),
    ("unknown dependency type", APP.format(name="b", team="t").replace("type: postgres", "type: postgress"),
     "dependencies[db].type"),
    ("unresolved reference", APP.format(name="b", team="t").replace("dependencies.db.url", "dependencies.cache.url"),
     "DATABASE_URL"),
    ("unknown output", APP.format(name="b", team="t").replace("dependencies.db.url", "dependencies.db.bucket"),
     "DATABASE_URL"),
    ("bad location", APP.format(name="b", team="t") + "  placement: {location: 'Mars:Olympus'}\n", "location"),
    ("environment type", ENVIRONMENT.replace("type: staging", "type: qa"), "spec.type"),
    ("auto-deploy rule", ENVIRONMENT.replace("[{branch: main}]", "[{application: ledger}]"), "auto_deploy"),
    ("namespace template", ENVIRONMENT + "  namespaceTemplate: '{team}-x'\n", "namespace_template"),
    ("bool expected", ENVIRONMENT + "  requireApproval: sometimes\n", "requireApproval"),
    ("label value", APP.format(name="b", team="not valid!"), "labels"),
    ("duplicate document", APP.format(name="b", team="t") + "---\n" + APP.format(name="b", team="t"),
     "also defined"),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD_MANIFESTS, ids=[c[0] for c in BAD_MANIFESTS])
def test_bad_manifests_are_refused_and_nothing_is_stored(
    control_plane: ControlPlane, tmp_path: Path, case: str, text: str, expected: str
) -> None:
    before = control_plane.tptctl("get", "apps", "-o", "name").out.split()
    envs_before = control_plane.tptctl("get", "envs", "-o", "name").out.split()

    refused = control_plane.tptctl("apply", "-f", write(tmp_path, text))

    assert refused.code == 5, f"{case}: exit {refused.code}\n{refused.out}{refused.err}"
    assert expected in refused.err, f"{case}: {refused.err}"
    assert "Traceback" not in refused.err
    assert control_plane.tptctl("get", "apps", "-o", "name").out.split() == before
    assert control_plane.tptctl("get", "envs", "-o", "name").out.split() == envs_before
