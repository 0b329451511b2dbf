"""``render_chart(include_crds=True)`` renders a chart's ``crds/`` folders first, as
``helm template --include-crds`` does; without it they are left out (Helm's default)."""

from __future__ import annotations

from pathlib import Path

from threeport_runtime.helm import render_chart

CRD = ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: ws.x.io}\n"
       "spec: {group: x.io, scope: Namespaced, names: {kind: W, plural: ws}, versions: [{name: v1}]}\n")


def test_crds_come_first_only_when_asked_for(tmp_path: Path) -> None:
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "crds").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "crds" / "w.yaml").write_text(CRD)
    (chart / "templates" / "w.yaml").write_text(
        "apiVersion: x.io/v1\nkind: W\nmetadata: {name: {{ .Release.Name }}}\n")
    with_crds = render_chart(chart, {}, release="r", namespace="n", include_crds=True)
    assert [(o.kind, o.name) for o in with_crds] == [("CustomResourceDefinition", "ws.x.io"), ("W", "r")]
    assert [o.kind for o in render_chart(chart, {}, release="r", namespace="n")] == ["W"]
