"""A small chart repository the tests serve over loopback HTTP, with charts they write: echo
1.0.0 and 1.1.0 (helpers, values with a values.schema.json, and a dependency) and a broken 2.0.0;
and the catalog entry that installs it. The addon and delivery tests share it."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest

CHART = {
    "Chart.yaml": (
        "apiVersion: v2\nname: echo\nversion: {version}\ndependencies:\n  - name: sidecar\n    version: 0.1.0\n"
    ),
    "values.yaml": "replicas: 1\nmessage: hello\nimage: registry.k8s.io/echoserver:1.10\n",
    "values.schema.json": '{"type": "object", "properties": {"message": {"type": "string"}}}',
    "templates/_helpers.tpl": '{{- define "echo.fullname" -}}{{ .Release.Name }}-echo{{- end -}}\n',
    "templates/deployment.yaml": (
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include "echo.fullname" . }}\n'
        "spec:\n  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: echo}}\n"
        "  template:\n    metadata: {labels: {app: echo}}\n    spec:\n      containers:\n"
        "        - name: echo\n          image: {{ .Values.image }}\n"
        "          env: [{name: MESSAGE, value: {{ .Values.message | quote }}}]\n"
    ),
    "charts/sidecar/Chart.yaml": "apiVersion: v2\nname: sidecar\nversion: 0.1.0\n",
    "charts/sidecar/templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-sidecar}\ndata: {from: sidecar}\n"
    ),
}


@pytest.fixture(scope="module")
def chart_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """An HTTP chart repository on loopback with echo 1.0.0 and 1.1.0 and a broken 2.0.0; yields
    its URL and each version's digest."""
    root = tmp_path_factory.mktemp("charts")
    served = root / "repo"
    served.mkdir()
    digests: dict[str, str] = {}
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        source = root / f"echo-{version}"
        for path, text in CHART.items():
            (source / path).parent.mkdir(parents=True, exist_ok=True)
            (source / path).write_text(text.replace("{version}", version), encoding="utf-8")
        if version == "2.0.0":  # a template that does not parse
            (source / "templates/broken.yaml").write_text("{{ .Values.missing | nosuchfunction }}\n", encoding="utf-8")
        archive = helm_python.package(source, destination=served)
        digests[version] = helm_python.digest(archive)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    helm_python.repo_index_generate(served, base_url=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, digests
    finally:
        server.shutdown()


def echo_addon(url: str, version: str, digest: str = "", **spec: Any) -> dict[str, Any]:
    chart = {"repository": url, "name": "echo", "version": version, **({"digest": digest} if digest else {})}
    return {
        "metadata": {"name": "echo"},
        "spec": {
            "installer": "helm",
            "namespace": "echo",
            "provides": ["kafka"],
            "versions": [{"version": version, "chart": chart}],
            "defaultValues": {"message": "from-the-catalog"},
            "valuesSchema": {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}},
            "outputs": {"bootstrap": "{{ .Release.Name }}-echo.{{ .Release.Namespace }}:9092"},
            **spec,
        },
    }


DEPLOYMENT = "/apis/apps/v1/namespaces/echo/deployments/echo-{}-echo"


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.fixture(scope="module")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A read-only OCI registry on loopback (plain HTTP) holding echo 1.0.0 as Helm pushes charts:
    a manifest whose config and layer are the chart's metadata and archive. Yields the chart's
    `oci://` reference and the archive's digest."""
    root = tmp_path_factory.mktemp("oci")
    source = root / "echo"
    for path, text in CHART.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(text.replace("{version}", "1.0.0"), encoding="utf-8")
    layer = Path(helm_python.package(source, destination=root)).read_bytes()
    config = json.dumps({"apiVersion": "v2", "name": "echo", "version": "1.0.0"}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.cncf.helm.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    "digest": _digest(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    blobs = {_digest(config): config, _digest(layer): layer}

    class Registry(http.server.BaseHTTPRequestHandler):
        def _answer(self, send_body: bool) -> None:
            body, media_type = None, "application/octet-stream"
            if self.path == "/v2/":
                body, media_type = b"{}", "application/json"
            elif self.path == "/v2/charts/echo/manifests/1.0.0":
                body, media_type = manifest, "application/vnd.oci.image.manifest.v1+json"
            elif self.path.startswith("/v2/charts/echo/blobs/"):
                body = blobs.get(self.path.rsplit("/", 1)[1])
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Docker-Content-Digest", _digest(body))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"oci://127.0.0.1:{server.server_address[1]}/charts/echo", _digest(layer)
    finally:
        server.shutdown()
