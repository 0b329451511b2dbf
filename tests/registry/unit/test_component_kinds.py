"""Component kinds at apply: helm, manifests and job components, hooks, autoscaling and
disruption budgets validate when right, and each bad input names its field and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.registry.unit.manifests import application
from threeport_registry.domain.application import validate_application

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
"""
GOOD: dict[str, Any] = {
    "components": {
        "api": {"image": "nginx:1.27", "replicas": 1, "autoscaling": {"min": 2, "max": 5, "cpu": 70},
                "disruptionBudget": {"minAvailable": "1"}},
        "migrate": {"kind": "job", "image": "nginx:1.27", "command": ["/migrate"]},
        "report": {"kind": "job", "image": "nginx:1.27", "schedule": "*/5 * * * *"},
        "charts": {"kind": "helm", "helm": {"repository": "https://charts.example.com", "chart": "mychart",
                                            "version": "0.1.0",
                                            "values": {"replicaCount": 2, "db": {"host": "${dependencies.db.host}"}}}},
        "extras": {"kind": "manifests",
                   "manifests": CRD + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
                                "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"},
    },
    "dependencies": {"db": {"type": "postgres"}},
    "hooks": {"preDeploy": ["migrate"]},
}
C = "application.spec.components"


def _with(path: str, value: Any) -> dict[str, Any]:
    import copy

    spec = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = spec
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return spec


def test_every_kind_validates_cleanly() -> None:
    assert validate_application(application(GOOD)) == []


BAD: list[tuple[str, Any, str, str]] = [
    ("components.api.kind", "lambda", f"{C}[api].kind", "container, job, helm, manifests"),
    ("components.charts.helm", {"chart": "x", "version": "1.0.0"}, f"{C}[charts].helm", "exactly one of repository"),
    ("components.charts.helm", {"repository": "https://c.example.com", "chart": "x"}, f"{C}[charts].helm.version",
     "exact chart version"),
    ("components.charts.helm", {"oci": "https://x", "version": "1.0.0"}, f"{C}[charts].helm.oci", "oci://"),
    ("components.charts.helm", {"oci": "oci://r.example.com/c", "version": "1.0.0", "digest": "md5:1"},
     f"{C}[charts].helm.digest", "sha256:"),
    ("components.charts.helm", {"oci": "oci://r.example.com/c", "version": "1.0.0",
                                "values": {"password": "${dependencies.db.password}"}},
     f"{C}[charts].helm.values.password", "outputs Secret"),
    ("components.charts.image", "nginx", f"{C}[charts].image", "containers and jobs"),
    ("components.extras.manifests", "apiVersion: v1\nkind: Gizmo\nmetadata: {name: g}\n",
     f"{C}[extras].manifests[0]", "not a kind every cluster serves"),
    ("components.extras.manifests", "kind: ConfigMap\nmetadata: {name: c}\n", f"{C}[extras].manifests",
     "no apiVersion"),
    ("components.extras.manifests", "a: [", f"{C}[extras].manifests", "not valid YAML"),
    ("components.extras.manifests", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: kube-system}\n",
     f"{C}[extras].manifests[0].metadata.namespace", "deployment's namespace"),
    ("components.report.schedule", "every minute", f"{C}[report].schedule", "five fields"),
    ("components.api.schedule", "* * * * *", f"{C}[api].schedule", "only for kind: job"),
    ("components.migrate.storage", [{"name": "d", "path": "/d", "size": "1Gi"}], f"{C}[migrate].storage",
     "runs to completion"),
    ("components.api.autoscaling", {"min": 3, "max": 2}, f"{C}[api].autoscaling.max", "at least min"),
    ("components.api.autoscaling", {"min": 0, "max": 2}, f"{C}[api].autoscaling.min", "at least 1"),
    ("components.api.autoscaling", {"min": 1, "max": 2, "cpu": 150}, f"{C}[api].autoscaling.cpu", "1-100"),
    ("components.api.disruptionBudget", {"minAvailable": "1", "maxUnavailable": "1"}, f"{C}[api].disruption_budget",
     "exactly one"),
    ("components.api.disruptionBudget", {"maxUnavailable": "half"}, f"{C}[api].disruption_budget.max_unavailable",
     "percentage"),
    ("hooks.preDeploy", ["api"], "application.spec.hooks.pre_deploy[0]", "must be a kind: job"),
    ("hooks.preDeploy", ["nope"], "application.spec.hooks.pre_deploy[0]", "not a component"),
    ("hooks.preDeploy", ["report"], "application.spec.hooks.pre_deploy[0]", "runs once per release"),
]


@pytest.mark.parametrize(("path", "value", "field", "words"), BAD, ids=[b[2] + ":" + b[3] for b in BAD])
def test_bad_input_names_the_field(path: str, value: Any, field: str, words: str) -> None:
    violations = validate_application(application(_with(path, value)))
    assert [v.field for v in violations] == [field], violations
    assert words in violations[0].description
