"""Tenancy through the gateway: what one project's users can see of another, what a deleted
project leaves behind, and how long a revoked or expired credential keeps working."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import ControlPlane, eventually
from tests.security.conftest import Tenants, issue_token, write
from threeport.common.v1alpha1 import watch_pb2
from threeport.sdk import Client, UnauthenticatedError
from threeport_cli.commands.events import list_project_events

WORKLOAD = """\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {{name: {app}, project: {project}}}
spec:
  components:
    svc: {{image: registry.example.com/{app}/svc:1.0.0, ports: [{{name: http, port: 8080}}]}}
---
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {{name: dev, project: {project}}}
spec: {{type: development}}
"""


def deploy(plane: ControlPlane, tmp_path: Path, project: str, app: str) -> None:
    applied = plane.tptctl("apply", "-f", write(tmp_path, WORKLOAD.format(project=project, app=app), f"{project}.yaml"),
                           "--wait", "--timeout", "60s")
    assert applied.code == 0, applied.err
    deployed = plane.tptctl("deploy", app, "--env", "dev", "-p", project, "--wait", "--timeout", "120s")
    assert deployed.code == 0, deployed.err


def test_a_project_that_holds_anything_is_not_deleted_and_force_leaves_nothing_behind(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    cp = control_plane
    assert cp.tptctl("project", "create", "doomed").code == 0
    deploy(cp, tmp_path, "doomed", "ledger")
    refused = cp.tptctl("delete", "project", "doomed")
    assert refused.code == 4, refused.err
    for held in ("deployments/ledger-dev", "applications/ledger", "environments/dev"):
        assert held in refused.err
    assert cp.tptctl("get", "app", "ledger", "-p", "doomed").code == 0

    forced = cp.tptctl("delete", "project", "doomed", "--force")
    assert forced.code == 0, forced.err
    assert cp.tptctl("get", "project", "doomed").code == 3
    # The same name again starts empty: nothing of the old project comes back.
    assert cp.tptctl("project", "create", "doomed").code == 0
    for kind in ("apps", "environments", "deployments"):
        listed = cp.tptctl("get", kind, "-p", "doomed", "-o", "name")
        assert listed.code == 0 and listed.out.strip() == "", (kind, listed.out)
    assert cp.tptctl("delete", "project", "doomed").code == 0


def test_a_deleted_project_s_history_does_not_come_back_with_its_name(
    control_plane: ControlPlane, tenants: Tenants, tmp_path: Path
) -> None:
    """Events, releases, builds, claims and watches of a project deleted with force stay with it:
    a new project of the same name starts with none of them."""
    cp = control_plane
    assert cp.tptctl("project", "create", "reborn").code == 0
    deploy(cp, tmp_path, "reborn", "ledger")
    reported = cp.tptctl("build", "report", "ledger", "--component", "svc", "-p", "reborn",
                         "--image", "registry.example.com/ledger/svc:1.0.1", "--branch", "main")
    assert reported.code == 0, reported.err
    operator = tenants.operator()
    assert list_project_events(operator, "reborn"), "the old project recorded no events to check"
    assert cp.tptctl("delete", "project", "reborn", "--force").code == 0
    assert cp.tptctl("project", "create", "reborn").code == 0
    try:
        for kind in ("releases", "builds"):
            listed = cp.tptctl("get", kind, "-p", "reborn", "-o", "name")
            assert listed.code == 0 and listed.out.strip() == "", (kind, listed.out)
        claims = [c for c in operator.cluster.get_cluster(name="clusters/local").status.claims if "reborn" in c]
        assert claims == []
        watched = []
        for event in operator.application.watch_applications(parent="projects/reborn", timeout=30):
            if event.type == watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT:
                break
            watched.append(event)
        assert watched == []
        assert list_project_events(operator, "reborn") == []
    finally:
        assert cp.tptctl("delete", "project", "reborn", "--force").code == 0


def test_nothing_is_created_in_a_project_that_does_not_exist_even_by_an_operator(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    manifest = write(tmp_path, WORKLOAD.format(project="nowhere", app="orphan"))
    applied = control_plane.tptctl("apply", "-f", manifest)  # the local context is an operator
    assert applied.code == 3, applied.err
    assert "project 'nowhere' does not exist" in applied.err
    deployed = control_plane.tptctl("deploy", "orphan", "--env", "dev", "-p", "nowhere")
    assert deployed.code == 3, deployed.err


def watch_until_it_ends(client: Client, project: str, outcome: list[BaseException], started: threading.Event) -> None:
    try:
        for _event in client.application.watch_applications(parent=f"projects/{project}", timeout=120):
            started.set()
    except BaseException as error:
        outcome.append(error)
    finally:
        started.set()


def test_revoking_a_token_ends_its_open_watch_at_once(control_plane: ControlPlane, tenants: Tenants) -> None:
    token = issue_token(control_plane, "sec-watcher", "sec-a", "viewer")
    outcome: list[BaseException] = []
    started = threading.Event()
    watcher = threading.Thread(target=watch_until_it_ends, args=(tenants.connect(token), "sec-a", outcome, started))
    watcher.start()
    assert started.wait(60), "the watch did not start"
    operator = tenants.operator()
    (listed,) = list(operator.token.list_tokens(parent="principals/sec-watcher"))
    operator.token.revoke_token(name=listed.name)
    # Ends well before its own 120 s deadline: as soon as the revocation is known.
    watcher.join(60)
    assert not watcher.is_alive(), "the watch kept running after its token was revoked"
    assert len(outcome) == 1 and isinstance(outcome[0], UnauthenticatedError), outcome
    assert outcome[0].reason == "TOKEN_REVOKED"


def test_an_expiring_token_ends_its_open_watch_when_it_expires(control_plane: ControlPlane, tenants: Tenants) -> None:
    token = issue_token(control_plane, "sec-brief", "sec-a", "viewer", "--ttl", "3s")
    outcome: list[BaseException] = []
    started = threading.Event()
    watcher = threading.Thread(target=watch_until_it_ends, args=(tenants.connect(token), "sec-a", outcome, started))
    watcher.start()
    watcher.join(60)
    assert not watcher.is_alive(), "the watch outlived its token"
    assert len(outcome) == 1 and isinstance(outcome[0], UnauthenticatedError), outcome
    assert outcome[0].reason == "TOKEN_EXPIRED"


def test_a_cluster_shows_each_project_only_its_own_claims(
    control_plane: ControlPlane, tenants: Tenants, tmp_path: Path
) -> None:
    for project, app in (("sec-a", "alpha"), ("sec-b", "beta")):
        deploy(control_plane, tmp_path, project, app)
    # Deployed means Ready; the cluster lists a bound claim at its next pass (a binding wakes it
    # 2 s later, so bindings close together make one pass).
    def both_listed() -> bool:
        everything = tenants.operator().cluster.get_cluster(name="clusters/local").status.claims
        return any("alpha-dev" in c for c in everything) and any("beta-dev" in c for c in everything)

    eventually(both_listed, "the cluster to list both projects' claims", within=60.0)
    for project, own, other in (("sec-a", "alpha-dev", "beta-dev"), ("sec-b", "beta-dev", "alpha-dev")):
        for role in ("viewer", "deployer", "admin"):
            client = tenants.client(project, role)
            seen = list(client.cluster.get_cluster(name="clusters/local").status.claims)
            assert any(own in c for c in seen) and not any(other in c for c in seen), (project, role, seen)
            (listed,) = [c for c in client.cluster.list_clusters() if c.name == "clusters/local"]
            assert not any(other in c for c in listed.status.claims)
    with pytest.raises(UnauthenticatedError):
        Client(tenants.server, token="tp_" + "0" * 32 + "_" + "A" * 43).cluster.get_cluster(name="clusters/local")
