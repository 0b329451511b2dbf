"""Helm's Go library is loaded on first use, not by importing a service (``threeport_runtime.helm``):
it costs ~58 MB of RSS and six threads in every process that imports it, and workload-delivery,
the registry and ``tptctl`` mostly never render a chart."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

IMPORT_EVERYTHING_THEN_RENDER = textwrap.dedent("""
    import sys
    import threeport_addon_manager.service, threeport_registry.service, threeport_workload_delivery.service
    import threeport_cli.main
    print("loaded after imports:", "helm_python" in sys.modules)
    from threeport_runtime.helm import render_chart
    objects = render_chart(sys.argv[1], {"name": "x"}, release="r", namespace="n")
    print("loaded after a render:", "helm_python" in sys.modules, [o.kind for o in objects])
""")


def test_services_and_the_cli_load_helm_only_when_a_chart_is_rendered(tmp_path: Path) -> None:
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Values.name }}}\n")
    run = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING_THEN_RENDER, str(chart)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["loaded after imports: False", "loaded after a render: True ['ConfigMap']"]
