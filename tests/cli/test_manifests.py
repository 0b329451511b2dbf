"""Manifests are read from files, folders and stdin into API messages, or refused precisely."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from threeport.registry.v1alpha1 import environment_pb2
from threeport_cli import manifests
from threeport_cli.manifests import ManifestError
from threeport_cli.protojson import to_friendly_dict

LEDGER = """\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {name: ledger, project: acme, labels: {team: payments}}
spec:
  components:
    api:
      image: registry.example.com/ledger/api:1.0.0
      replicas: 2
      ports: [{name: http, port: 8080, protocol: TCP}]
      env: {LOG_LEVEL: info, DATABASE_URL: "${dependencies.db.url}", WORKERS: 4}
      resources: {cpu: 200m, memory: 256Mi}
      probes: {readiness: {http: {path: /healthz, port: http}}}
  dependencies:
    db: {type: postgres, class: small}
    web: {type: ingress, params: {component: api, port: http, host: ledger.example.com, tls: true}}
  placement: {location: "Europe:Frankfurt", clusterProfile: standard, clusterLabels: {tier: gold}}
---
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {name: prod, project: acme}
spec:
  type: production
  serviceClasses: {postgres: large}
  autoDeploy: [{branch: main}, {tag: "v*", application: ledger}]
  requireApproval: true
  onDemandClusters: true
"""


def load_text(text: str, project: str = "") -> list[manifests.Manifest]:
    return manifests.load(["-"], io.StringIO(text), project)


def test_the_design_example_parses_into_messages() -> None:
    application, environment = load_text(LEDGER)

    assert application.name == "projects/acme/applications/ledger"
    assert application.parent == "projects/acme" and application.resource_id == "ledger"
    spec = application.message.spec  # type: ignore[union-attr]
    assert spec.components["api"].ports[0].port == 8080
    assert spec.components["api"].env["WORKERS"] == "4", "numbers in string fields become text"
    assert spec.dependencies["web"].params["tls"] is True
    assert dict(application.message.labels) == {"team": "payments"}  # type: ignore[union-attr]
    assert environment.message.spec.type == environment_pb2.ENVIRONMENT_TYPE_PRODUCTION  # type: ignore[union-attr]
    assert to_friendly_dict(environment.message)["spec"]["type"] == "production"  # type: ignore[arg-type]


def test_project_comes_from_the_flag_when_metadata_has_none() -> None:
    text = LEDGER.replace(", project: acme", "")
    application, _ = load_text(text, project="shop")
    assert application.name == "projects/shop/applications/ledger"


def test_folders_are_read_recursively_in_name_order(tmp_path: Path) -> None:
    first, second = LEDGER.split("---\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "env.yaml").write_text(second)
    (tmp_path / "a.yml").write_text(first)
    (tmp_path / "notes.txt").write_text("ignored")
    loaded = manifests.load([str(tmp_path)], io.StringIO(), "")
    assert [m.kind for m in loaded] == ["Application", "Environment"]


def test_score_files_are_recognised_and_kept_verbatim() -> None:
    score = "apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers:\n  main: {image: nginx}\n"
    (manifest,) = load_text(score, project="acme")
    assert manifest.is_score and manifest.score_yaml == score
    assert manifest.name == "projects/acme/applications/web"


BAD = [
    ("not yaml", "kind: [", "not valid YAML"),
    ("api version", LEDGER.replace("threeport.io/v1alpha1", "v1", 1), "apiVersion"),
    ("unknown kind", LEDGER.replace("kind: Application", "kind: App"), "kind: unknown kind 'App'"),
    ("kind of an internal type", LEDGER.replace("kind: Application", "kind: ClusterClaim"), "unknown kind"),
    ("no name", LEDGER.replace("name: ledger, ", ""), "metadata.name: required"),
    ("no project", LEDGER.replace(", project: acme", ""), "metadata.project: no project"),
    ("project on a global kind",
     "apiVersion: threeport.io/v1alpha1\nkind: Cluster\nmetadata: {name: c, project: a}\nspec: {}\n",
     "Cluster is global"),
    ("unknown metadata", LEDGER.replace("labels: {team", "lables: {team"), "metadata.lables: unknown field"),
    ("unknown top level", LEDGER.replace("spec:\n  components", "extra: 1\nspec:\n  components", 1),
     "extra: unknown top-level field"),
    ("no spec", "apiVersion: threeport.io/v1alpha1\nkind: Environment\nmetadata: {name: e, project: a}\n",
     "spec: required"),
    ("unknown spec field", LEDGER.replace("requireApproval", "requireApprovl"),
     "spec.requireApprovl: unknown field; EnvironmentSpec has:"),
    ("unknown nested field", LEDGER.replace("replicas: 2", "replica: 2"),
     "spec.components.api.replica: unknown field"),
    ("bad enum", LEDGER.replace("type: production", "type: prod"),
     "spec.type: 'prod' is not one of: development, staging, production"),
    ("number expected", LEDGER.replace("replicas: 2", "replicas: two"),
     "spec.components.api.replicas: expected a whole number"),
    ("bool expected", LEDGER.replace("requireApproval: true", "requireApproval: 1"),
     "spec.requireApproval: expected true or false"),
    ("list expected", LEDGER.replace("ports: [{name: http, port: 8080, protocol: TCP}]", "ports: http"),
     "spec.components.api.ports: expected a list"),
    ("mapping expected", LEDGER.replace("probes: {readiness", "probes: [{readiness").replace(
        "port: http}}}", "port: http}}}]"), "spec.components.api.probes: expected a mapping"),
    ("label values", LEDGER.replace("{team: payments}", "{team: [a]}"), "metadata.labels.team"),
    ("duplicate", LEDGER + "---\n" + LEDGER.split("---\n")[1], "also defined"),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD, ids=[c[0] for c in BAD])
def test_bad_manifests_are_refused_with_the_field_named(case: str, text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load_text(text)
    assert expected in str(raised.value), f"{case}: {raised.value}"


def test_missing_files_and_empty_input_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file or folder"):
        manifests.load([str(tmp_path / "nope.yaml")], io.StringIO(), "")
    with pytest.raises(ManifestError, match="contains no manifests"):
        manifests.load(["-"], io.StringIO("---\n"), "")
    with pytest.raises(ManifestError, match=r"no \.yaml, \.yml, \.json files"):
        manifests.load([str(tmp_path)], io.StringIO(), "")


def test_output_shows_short_enums_and_numbers() -> None:
    environment = environment_pb2.Environment(
        name="projects/a/environments/prod", generation=3,
        spec=environment_pb2.EnvironmentSpec(type=environment_pb2.ENVIRONMENT_TYPE_PRODUCTION),
    )
    shown = to_friendly_dict(environment)
    assert shown["generation"] == 3 and shown["spec"]["type"] == "production"


def test_component_manifests_may_be_text_or_a_list() -> None:
    text = """\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {name: extras, project: acme}
spec:
  components:
    inline:
      kind: manifests
      manifests: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: a}
    listed:
      kind: manifests
      manifests:
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}, data: {x: "1"}}
        - {apiVersion: v1, kind: Secret, metadata: {name: c}}
"""
    (application,) = load_text(text)
    components = application.message.spec.components  # type: ignore[union-attr]
    assert components["inline"].manifests.startswith("apiVersion: v1\nkind: ConfigMap")
    documents = list(yaml.safe_load_all(components["listed"].manifests))
    assert [d["metadata"]["name"] for d in documents] == ["b", "c"] and documents[0]["data"] == {"x": "1"}
