"""The public API as JSON over HTTP, driven with the real ``curl``: the same authentication,
authorization, audit and errors as gRPC, mapped from the protos' ``google.api.http`` rules."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import require_tool
from threeport_api_gateway.access.methods import MethodTable
from threeport_api_gateway.config import TlsSettings
from threeport_api_gateway.http.routes import RouteTable

from .conftest import World, gateway_settings, open_world
from .registry_stand_in import RegistryStandIn
from .test_tls import _issue, _pem


@pytest.fixture
async def http_world(database_url: str, stream_prefix: str, registry: RegistryStandIn) -> AsyncIterator[World]:
    settings = gateway_settings(database_url, stream_prefix, registry, http_listen_address="127.0.0.1:0")
    async with open_world(settings, registry) as running:
        yield running


async def curl(world: World, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    """Runs curl like a CI job would; returns the HTTP status and the JSON answer."""
    command = [require_tool(shutil.which("curl"), "curl"), "-sS", "-X", method, "-w", "\n%{http_code}",
               f"http://127.0.0.1:{world.gateway.http_port}{path}"]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    text, _, status = done.stdout.rpartition("\n")
    try:
        return int(status), json.loads(text)
    except json.JSONDecodeError:  # a stream: one JSON document per line
        return int(status), text


def test_every_public_method_has_exactly_one_http_route() -> None:
    methods = MethodTable.load()
    routed = {route.method.path for route in RouteTable.load(methods)}
    public = {path for path, info in methods.items() if not info.internal}
    internal = {path for path, info in methods.items() if info.internal}
    assert public - routed == set(), "public methods without a google.api.http rule"
    assert routed & internal == set(), "internal methods must not be reachable over HTTP"


async def test_create_over_http_is_proxied_authorized_and_audited(http_world: World) -> None:
    await http_world.project("acme")
    token = await http_world.principal("ci", ("deployer", "projects/acme"))

    status, created = await curl(
        http_world, "POST", "/v1alpha1/projects/acme/applications?applicationId=shop", token,
        {"spec": {"components": {"api": {"image": "registry.example.com/shop/api:1.0.0"}}}},
    )

    assert status == 200, created
    assert created == {"name": "projects/acme/applications/shop", "reconciling": True}
    seen = http_world.registry.calls[-1]
    assert (seen.method, seen.principal) == ("CreateApplication", "principals/ci")
    assert seen.grants == "deployer@projects/acme"
    entries = [e async for e in http_world.admin.audit_entry.list_audit_entries(filter='principal = "principals/ci"')]
    assert [(e.method, e.allowed, e.code) for e in entries] == [
        ("/threeport.registry.v1alpha1.ApplicationService/CreateApplication", True, "OK")
    ]
    assert entries[0].peer.startswith("http:127.0.0.1")


async def test_unauthenticated_call_is_refused_with_401_and_audited(http_world: World) -> None:
    status, answer = await curl(http_world, "GET", "/v1alpha1/projects/acme/applications/shop")

    assert status == 401
    assert answer["error"]["status"] == "UNAUTHENTICATED"
    assert answer["error"]["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert answer["error"]["details"][0]["reason"] == "UNAUTHENTICATED"
    assert http_world.registry.calls == []
    denied = [e async for e in http_world.admin.audit_entry.list_audit_entries(filter="allowed = false")]
    assert [(e.method, e.code) for e in denied] == [
        ("/threeport.registry.v1alpha1.ApplicationService/GetApplication", "UNAUTHENTICATED")
    ]
    assert denied[0].peer.startswith("http:127.0.0.1")


async def test_permission_denied_is_403(http_world: World) -> None:
    await http_world.project("acme")
    token = await http_world.principal("viewer", ("viewer", "projects/acme"))

    status, answer = await curl(
        http_world, "POST", "/v1alpha1/projects/acme/applications?applicationId=shop", token, {"spec": {}}
    )

    assert status == 403
    assert answer["error"]["status"] == "PERMISSION_DENIED"
    assert http_world.registry.calls == []


async def test_backend_errors_keep_their_details(http_world: World) -> None:
    await http_world.project("acme")
    status, answer = await curl(
        http_world, "POST", "/v1alpha1/projects/acme/applications?applicationId=shop", http_world.admin_token,
        {"spec": {}},
    )

    assert status == 400
    violations = next(d for d in answer["error"]["details"] if d["@type"].endswith("BadRequest"))
    assert violations["fieldViolations"] == [
        {"field": "application.spec.components", "description": "must name at least one component"}
    ]


async def test_bad_json_and_unknown_fields_are_400_naming_the_problem(http_world: World) -> None:
    admin = http_world.admin_token
    status, answer = await curl(http_world, "POST", "/v1alpha1/projects/acme/applications", admin, "not json")
    assert status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"

    status, answer = await curl(http_world, "POST", "/v1alpha1/projects/acme/applications", admin, {"spek": {}})
    assert status == 400
    assert "spek" in answer["error"]["message"]

    status, answer = await curl(http_world, "GET", "/v1alpha1/projects/acme/applications?pageSize=many", admin)
    assert status == 400
    assert "pageSize" in answer["error"]["message"]
    assert http_world.registry.calls == []


async def test_unknown_paths_and_wrong_methods(http_world: World) -> None:
    admin = http_world.admin_token
    status, answer = await curl(http_world, "GET", "/v1alpha1/nothing/here", admin)
    assert status == 404
    assert "no API method at GET /v1alpha1/nothing/here" in answer["error"]["message"]

    status, answer = await curl(http_world, "PUT", "/v1alpha1/projects/acme/applications/shop", admin, {})
    assert status == 501
    assert "DELETE, GET, PATCH" in answer["error"]["message"]


async def test_gateway_local_methods_work_over_http(http_world: World) -> None:
    status, created = await curl(http_world, "POST", "/v1alpha1/projects?projectId=web", http_world.admin_token, {})
    assert status == 200, created
    assert created["name"] == "projects/web"

    status, listed = await curl(http_world, "GET", "/v1alpha1/projects?pageSize=10", http_world.admin_token)
    assert status == 200
    assert [p["name"] for p in listed["projects"]] == ["projects/web"]

    status, me = await curl(http_world, "GET", "/v1alpha1/principals:current", http_world.admin_token)
    assert status == 200, me


async def test_watch_streams_newline_delimited_json(http_world: World) -> None:
    status, text = await curl(
        http_world, "GET", "/v1alpha1/projects/acme/applications:watch", http_world.admin_token
    )

    assert status == 200
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["result"]["application"]["name"] for line in lines] == [
        f"projects/acme/applications/app-{index}" for index in range(3)
    ]


async def test_https_with_client_certificates(
    database_url: str, stream_prefix: str, registry: RegistryStandIn, tmp_path: Path
) -> None:
    ca = _issue("threeport test CA", None)
    files: dict[str, bytes] = {"ca.pem": _pem(ca)[0]}
    files["server.pem"], files["server.key"] = _pem(_issue("localhost", ca))
    files["client.pem"], files["client.key"] = _pem(_issue("ci-runner", ca))
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    tls = TlsSettings(tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem")
    settings = gateway_settings(database_url, stream_prefix, registry, tls=tls, http_listen_address="127.0.0.1:0")
    async with open_world(settings, registry) as world:
        url = f"https://localhost:{world.gateway.http_port}/v1alpha1/principals:current"
        base = [require_tool(shutil.which("curl"), "curl"), "-sS", "--cacert", str(tmp_path / "ca.pem"),
                "-H", f"Authorization: Bearer {world.admin_token}"]
        with_certificate = await asyncio.to_thread(
            subprocess.run, [*base, "--cert", str(tmp_path / "client.pem"), "--key", str(tmp_path / "client.key"), url],
            capture_output=True, text=True, timeout=60, check=False)
        without = await asyncio.to_thread(subprocess.run, [*base, url], capture_output=True, text=True, timeout=60,
                                          check=False)

    assert with_certificate.returncode == 0, with_certificate.stderr
    assert json.loads(with_certificate.stdout)["principal"]["name"] == "principals/admin"
    assert without.returncode != 0  # the TLS handshake refuses a client without a certificate


# Query parameters a watch takes, plus ones it does not, with hostile values.
WATCH_KEYS = st.sampled_from(["filter", "resource_version", "resourceVersion", "parent", "page_size", "x",
                              "filter.x", "", "resource_version.x"])
WATCH_VALUES = st.one_of(st.text(max_size=30), st.sampled_from(
    ["", "\x00", "18446744073709551616-0", "1-1", "name = \"", "labels.a:", "-1", "%ZZ"]))


async def test_hostile_watch_queries_over_http_never_fail_internally(http_world: World) -> None:
    """Generated paths and query strings on a ``:watch`` route: a clear 4xx, or a stream whose lines are
    results or a clean error - never a 5xx, never INTERNAL or UNKNOWN inside the stream. (The
    HTTP bridge is the same for every domain; tests/security fuzzes every watch over gRPC
    against the real services.)"""
    # This world's one backend, the registry stand-in, serves the applications' watch.
    (watch,) = [r for r in RouteTable.load(MethodTable.load()) if r.method.path.endswith("/WatchApplications")]
    base = f"http://127.0.0.1:{http_world.gateway.http_port}"
    headers = {"Authorization": f"Bearer {http_world.admin_token}"}

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(["projects/acme", "projects/x", "projects/-", "projects/%00", "projects/acme/x"]),
           st.lists(st.tuples(WATCH_KEYS, WATCH_VALUES), max_size=3))
    def check(parent: str, query: list[tuple[str, str]]) -> None:
        path = watch.template.template.replace("{parent=projects/*}", parent)
        url = f"{base}{path}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                lines = [json.loads(line) for line in answer.read().decode().splitlines() if line]
        except urllib.error.HTTPError as refused:
            assert refused.code < 500, (url, refused.code, refused.read()[:300])
            return
        for line in lines:
            assert set(line) <= {"result", "error"}, line
            if "error" in line:
                assert line["error"].get("status") not in ("INTERNAL", "UNKNOWN"), (url, line)

    await asyncio.to_thread(check)
