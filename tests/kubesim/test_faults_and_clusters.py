"""Many clusters and real credentials: per-cluster ports, tokens and CAs, clusters created and
deleted at runtime through the control API; and the injected faults: image pulls that fail,
unreachable clusters, failing requests and latency."""

from __future__ import annotations

import base64
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.kubesim.helpers import deployment, wait_for
from threeport_kubesim.control import ControlError
from threeport_kubesim.testing import EmulatorHandle


def _get(url: str, token: str | None, context: ssl.SSLContext | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_requests_need_the_cluster_token(emulator: EmulatorHandle) -> None:
    info = emulator.clusters["main"]
    context = ssl.create_default_context(cadata=_ca_pem(info.kubeconfig_path))
    assert _get(f"{info.server}/api/v1/namespaces", None, context) == 401
    assert _get(f"{info.server}/api/v1/namespaces", "wrong", context) == 401
    assert _get(f"{info.server}/api/v1/namespaces", info.token, context) == 200


def _ca_pem(kubeconfig_path: str) -> str:
    document = yaml.safe_load(Path(kubeconfig_path).read_text())
    return base64.b64decode(document["clusters"][0]["cluster"]["certificate-authority-data"]).decode()


def test_tls_is_verified_against_the_cluster_ca(emulator: EmulatorHandle) -> None:
    info = emulator.clusters["main"]
    with pytest.raises(urllib.error.URLError):
        _get(f"{info.server}/version", None, ssl.create_default_context())
    assert _get(f"{info.server}/version", None, ssl.create_default_context(cadata=_ca_pem(info.kubeconfig_path))) == 200


def test_clusters_are_created_and_deleted_at_runtime(emulator: EmulatorHandle) -> None:
    control = emulator.control
    info = control.create_cluster("extra", tls=False, nodes=3)
    try:
        assert info.server.startswith("http://127.0.0.1:") and not info.tls and info.ca_data is None
        # No kubeconfig: kubectl would not send the token over plain http.
        assert info.kubeconfig_path == ""
        assert "extra" in {c.name for c in control.list_clusters()}
        with pytest.raises(ControlError) as duplicate:
            control.create_cluster("extra")
        assert duplicate.value.status == 409
        emulator.clusters["extra"] = info
        configuration = client.Configuration(host=info.server, api_key={"authorization": f"Bearer {info.token}"})
        core = client.CoreV1Api(client.ApiClient(configuration))
        assert len(core.list_node().items) == 3
        # Clusters are isolated: the other cluster's token is refused here.
        assert _get(f"{info.server}/api/v1/nodes", emulator.clusters["main"].token) == 401
    finally:
        control.delete_cluster("extra")
        emulator.clusters.pop("extra", None)
    assert _refuses(info.port)
    with pytest.raises(ControlError) as missing:
        control.get_cluster("extra")
    assert missing.value.status == 404


def test_a_connection_still_in_its_handshake_when_the_cluster_is_deleted_is_closed(emulator: EmulatorHandle) -> None:
    # A client whose TLS handshake was under way when the cluster went away must not be served
    # afterwards: a watch opened on it would otherwise follow a deleted cluster until it timed out.
    info = emulator.control.create_cluster("going")
    emulator.clusters["going"] = info
    raw = socket.create_connection(("127.0.0.1", info.port), timeout=10)
    try:
        emulator.control.delete_cluster("going")
        emulator.clusters.pop("going", None)
        context = ssl.create_default_context(cadata=base64.b64decode(info.ca_data or "").decode())
        with (
            pytest.raises((ssl.SSLError, ConnectionError, OSError)),
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if not tls.recv(1024):
                raise ConnectionError("closed without an answer")
    finally:
        raw.close()


def test_image_pull_failure(
    emulator: EmulatorHandle, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
) -> None:
    image = f"registry.example/{namespace}:broken"
    emulator.control.image_pull_fail("main", image)
    try:
        apps.create_namespaced_deployment(namespace, deployment("bad", image=image, replicas=1, progress_deadline=20))

        def backing_off() -> bool:
            pods = core.list_namespaced_pod(namespace).items
            return bool(pods) and any(
                s.state.waiting and s.state.waiting.reason == "ImagePullBackOff"
                for s in pods[0].status.container_statuses or []
            )

        wait_for(backing_off, what="ImagePullBackOff")
        messages = [e.message for e in core.list_namespaced_event(namespace).items if e.type == "Warning"]
        assert any(image in message and "Failed to pull image" in message for message in messages)

        def deadline_exceeded() -> bool:
            d = apps.read_namespaced_deployment("bad", namespace)
            progressing = next(c for c in d.status.conditions if c.type == "Progressing")
            return progressing.status == "False" and progressing.reason == "ProgressDeadlineExceeded"

        wait_for(deadline_exceeded, what="ProgressDeadlineExceeded")
        d = apps.read_namespaced_deployment("bad", namespace)
        assert not d.status.available_replicas
        assert next(c for c in d.status.conditions if c.type == "Available").status == "False"
    finally:
        emulator.control.image_pull_fail("main", image, enabled=False)
    # Once the registry "recovers" the pod pulls on its next retry and the deployment becomes available.
    wait_for(
        lambda: apps.read_namespaced_deployment("bad", namespace).status.available_replicas == 1,
        timeout=30,
        what="recovery after the fault is lifted",
    )


def test_unreachable_cluster_refuses_connections_then_recovers(emulator: EmulatorHandle) -> None:
    info = emulator.control.create_cluster("flaky", tls=False)
    emulator.clusters["flaky"] = info
    try:
        assert _get(f"{info.server}/version", None) == 200
        faults = emulator.control.set_unreachable("flaky")
        assert faults.unreachable
        assert _refuses(info.port)
        emulator.control.set_unreachable("flaky", enabled=False)
        assert _get(f"{info.server}/api/v1/namespaces", info.token) == 200
    finally:
        emulator.control.delete_cluster("flaky")
        emulator.clusters.pop("flaky", None)


def test_fail_requests_returns_the_chosen_status(
    emulator: EmulatorHandle, core: client.CoreV1Api, namespace: str
) -> None:
    emulator.control.fail_requests("main", 503, count=2, verb="list", resource="configmaps", namespace=namespace)
    for _ in range(2):
        with pytest.raises(client.ApiException) as failure:
            core.list_namespaced_config_map(namespace)
        assert failure.value.status == 503
    # A different verb was never affected, and the rule is used up after two requests.
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="ok")))
    assert [c.metadata.name for c in core.list_namespaced_config_map(namespace).items if c.metadata.name == "ok"] == [
        "ok"
    ]
    assert emulator.control.faults("main").fail_requests == []


def test_latency_fault_is_reported_and_cleared(emulator: EmulatorHandle, core: client.CoreV1Api) -> None:
    assert emulator.control.set_latency("main", 50).latency_ms == 50
    assert core.read_namespace("default").metadata.name == "default"
    cleared = emulator.control.clear_faults("main")
    assert cleared.latency_ms == 0 and not cleared.failing_images and not cleared.unreachable


def test_a_cluster_trusts_tokens_its_webhook_vouches_for(emulator: EmulatorHandle) -> None:
    import http.server
    import json
    import threading

    reviews: list[dict[str, object]] = []

    class Webhook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reviews.append(review)
            good = review["spec"]["token"] == "vouched-for"
            answer = dict(review, status={"authenticated": good, "user": {"username": "arn:aws:iam::1:user/ops"}})
            body = json.dumps(answer).encode()
            self.send_response(201)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        info = emulator.control.create_cluster(
            "webhooked", tls=False, token_webhook=f"http://127.0.0.1:{server.server_address[1]}/"
        )
        assert _get(f"{info.server}/api/v1/namespaces", "vouched-for", None) == 200
        assert _get(f"{info.server}/api/v1/namespaces", "vouched-for", None) == 200  # cached
        assert _get(f"{info.server}/api/v1/namespaces", "made-up", None) == 401
        assert _get(f"{info.server}/api/v1/namespaces", info.token, None) == 200  # its own still works
        assert [r["spec"] for r in reviews] == [{"token": "vouched-for"}, {"token": "made-up"}]
        assert reviews[0]["kind"] == "TokenReview" and reviews[0]["apiVersion"] == "authentication.k8s.io/v1"
        server.shutdown()
        server.server_close()
        # A webhook that cannot be reached lets nobody in (the cached answer still holds).
        assert _get(f"{info.server}/api/v1/namespaces", "another", None) == 401
    finally:
        server.server_close()
        emulator.control.delete_cluster("webhooked")
