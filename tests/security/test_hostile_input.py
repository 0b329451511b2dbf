"""Bad input and oversized input through the public surface: always a clear INVALID_ARGUMENT
(exit 5) or NOT_FOUND naming what is wrong, never INTERNAL, and nothing written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ControlPlane
from tests.security.conftest import Tenants, write
from threeport.registry.v1alpha1 import application_pb2
from threeport.sdk import InvalidArgumentError, NotFoundError
from threeport_runtime.rpc.limits import CLIENT_RECEIVE_BYTES, REQUEST_LIMIT_BYTES

APP = """\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {{name: {name}, project: sec-a{annotations}}}
spec:
  components:
    api:
      image: registry.example.com/{name}/api:1.0.0
{extra}
"""


def application(name: str, env_bytes: int) -> application_pb2.Application:
    found = application_pb2.Application()
    component = found.spec.components["api"]
    component.image = f"registry.example.com/{name}/api:1.0.0"
    component.env["PAYLOAD"] = "x" * env_bytes
    return found


def test_a_request_over_the_limit_is_invalid_argument_naming_it_and_stores_nothing(tenants: Tenants) -> None:
    client = tenants.client("sec-a", "deployer")
    with pytest.raises(InvalidArgumentError) as raised:
        client.application.create_application(
            parent="projects/sec-a", application_id="huge", application=application("huge", 5 * 1024 * 1024))
    assert str(REQUEST_LIMIT_BYTES) in raised.value.message
    with pytest.raises(NotFoundError):
        client.application.get_application(name="projects/sec-a/applications/huge")


def test_lists_of_large_objects_stay_readable(tenants: Tenants) -> None:
    """Each object is under the request limit, all together over what a client reads: every
    page must still fit (before, the list failed for every member of the project)."""
    client = tenants.client("sec-b", "deployer")
    size = REQUEST_LIMIT_BYTES - 64 * 1024
    count = CLIENT_RECEIVE_BYTES // size + 2
    for index in range(count):
        client.application.create_application(
            parent="projects/sec-b", application_id=f"big-{index}", application=application(f"big-{index}", size))
    try:
        listed = [app.name for app in client.application.list_applications(parent="projects/sec-b")]
        assert listed == sorted(f"projects/sec-b/applications/big-{i}" for i in range(count))
        first = client.application.list_applications_page(parent="projects/sec-b", page_size=100)
        assert first.next_page_token and first.ByteSize() < CLIENT_RECEIVE_BYTES
    finally:
        for index in range(count):
            client.application.delete_application(name=f"projects/sec-b/applications/big-{index}", force=True)


@pytest.mark.parametrize(("case", "annotations", "extra", "field"), [
    ("env", "", '      env: {GREETING: "hello\\0world"}', "env['GREETING']"),
    ("annotation", ', annotations: {note: "a\\0b"}', "", "annotations['note']"),
    ("command", "", '      command: ["/bin/run", "--flag=\\0"]', "command[1]"),
])
def test_nul_characters_are_refused_naming_the_field(
    control_plane: ControlPlane, tenants: Tenants, tmp_path: Path, case: str, annotations: str, extra: str, field: str
) -> None:
    name = f"nul-{case}"
    manifest = write(tmp_path, APP.format(name=name, annotations=annotations, extra=extra))
    applied = control_plane.tptctl("apply", "-f", manifest)
    assert applied.code == 5, applied.err
    assert field in applied.err and "NUL" in applied.err and "internal" not in applied.err.lower()
    assert control_plane.tptctl("get", "app", name, "-p", "sec-a").code == 3


def test_huge_replica_counts_are_invalid_input_in_plain_words(control_plane: ControlPlane, tmp_path: Path) -> None:
    for replicas in ("99999999999", "2147483647"):
        manifest = write(tmp_path, APP.format(name="many", annotations="", extra=f"      replicas: {replicas}"))
        applied = control_plane.tptctl("apply", "-f", manifest)
        assert applied.code == 5, applied.err
        assert "replicas" in applied.err and "out of range" in applied.err
        assert "Value out of range" not in applied.err and " field:" not in applied.err  # protobuf's words


def test_an_endless_token_lifetime_is_invalid_and_leaves_no_principal(control_plane: ControlPlane) -> None:
    created = control_plane.tptctl("token", "create", "forever", "-p", "sec-a", "--role", "viewer",
                                   "--ttl", "99999999d")
    assert created.code == 5, created.err
    assert "ttl" in created.err and "3650d" in created.err
    assert "principals/forever" not in control_plane.tptctl("get", "principals", "-o", "name").out


def test_rollback_to_a_release_below_one_is_invalid_input(control_plane: ControlPlane) -> None:
    for number in ("0", "-1"):
        rolled = control_plane.tptctl("rollback", "ghost", "--env", "dev", "--to-release", number, "-p", "sec-a")
        assert rolled.code == 5, rolled.err
        assert "release number" in rolled.err
    missing = control_plane.tptctl("rollback", "ghost", "--env", "dev", "-p", "sec-a")
    assert missing.code == 3 and "not found" in missing.err


def test_duplicate_keys_and_alias_bombs_are_refused_before_anything_is_sent(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    duplicate = write(tmp_path, APP.format(name="twice", annotations="", extra="") +
                      "  components:\n    web: {image: registry.example.com/w:1}\n", "dup.yaml")
    applied = control_plane.tptctl("apply", "-f", duplicate)
    assert applied.code == 5 and "'components' appears twice" in applied.err
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] + [
        f"{b}: &{b} [{','.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
    bomb = write(tmp_path, "apiVersion: threeport.io/v1alpha1\nkind: Application\nmetadata: {name: lol}\n"
                 + "\n".join(levels) + "\nspec: {components: {api: {image: x, command: *i}}}\n", "bomb.yaml")
    started = time.monotonic()
    applied = control_plane.tptctl("apply", "-f", bomb, "-p", "sec-a")
    assert applied.code == 5 and "aliases expand" in applied.err, (applied.err, time.monotonic() - started)
    assert control_plane.tptctl("get", "app", "twice", "-p", "sec-a").code == 3


def test_a_manifest_project_that_disagrees_with_the_flag_is_an_error(control_plane: ControlPlane,
                                                                     tmp_path: Path) -> None:
    manifest = write(tmp_path, APP.format(name="elsewhere", annotations="", extra=""))  # project sec-a
    applied = control_plane.tptctl("apply", "-f", manifest, "-p", "sec-b")
    assert applied.code == 5 and "metadata.project" in applied.err and "sec-b" in applied.err
    for project in ("sec-a", "sec-b"):
        assert control_plane.tptctl("get", "app", "elsewhere", "-p", project).code == 3


def test_a_multi_document_apply_writes_nothing_when_any_document_is_refused(control_plane: ControlPlane,
                                                                           tmp_path: Path) -> None:
    good = APP.format(name="first-ok", annotations="", extra="")
    bad = APP.format(name="second-bad", annotations="", extra="      replicas: 5000")
    applied = control_plane.tptctl("apply", "-f", write(tmp_path, good + "---\n" + bad))
    assert applied.code == 5 and "nothing was applied" in applied.err and "replicas" in applied.err
    assert control_plane.tptctl("get", "app", "first-ok", "-p", "sec-a").code == 3


def test_applying_an_existing_project_is_unchanged(control_plane: ControlPlane, tmp_path: Path) -> None:
    manifest = write(tmp_path, "apiVersion: threeport.io/v1alpha1\nkind: Project\nmetadata: {name: sec-a}\nspec: {}\n")
    applied = control_plane.tptctl("apply", "-f", manifest)
    assert applied.code == 0, applied.err
    assert applied.out.strip() == "project/sec-a unchanged"


DEPENDENT = """\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {{name: {name}, project: sec-a}}
spec:
  components:
    svc: {{image: registry.example.com/{name}/svc:1.0.0, ports: [{{name: http, port: 8080}}]}}
  dependencies:
    up: {{type: application, params: {{application: {target}, component: svc}}}}
"""


def test_dependency_mistakes_are_refused_at_apply_naming_them(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    itself = cp.tptctl("apply", "-f", write(tmp_path, DEPENDENT.format(name="narcissus", target="narcissus")))
    assert itself.code == 5 and "cannot depend on itself" in itself.err and "'up'" in itself.err
    missing = cp.tptctl("apply", "-f", write(tmp_path, DEPENDENT.format(name="lonely", target="nobody")))
    assert missing.code == 3 and "'nobody'" in missing.err and "does not exist" in missing.err
    # One apply may create an application and one that depends on it, in that order.
    pair = DEPENDENT.format(name="base", target="top").split("  dependencies:")[0] + "---\n" + DEPENDENT.format(
        name="top", target="base")
    assert cp.tptctl("apply", "-f", write(tmp_path, pair, "pair.yaml")).code == 0
    cycle = cp.tptctl("apply", "-f", write(tmp_path, DEPENDENT.format(name="base", target="top"), "cycle.yaml"))
    assert cycle.code == 5 and "base -> top -> base" in cycle.err, cycle.err
    for name in ("top", "base"):
        assert cp.tptctl("delete", "app", name, "-p", "sec-a", "--force").code == 0
    for name in ("narcissus", "lonely"):
        assert cp.tptctl("get", "app", name, "-p", "sec-a").code == 3


def test_a_cluster_profile_that_does_not_exist_is_an_error(control_plane: ControlPlane, tmp_path: Path) -> None:
    manifest = write(tmp_path, "apiVersion: threeport.io/v1alpha1\nkind: Environment\n"
                     "metadata: {name: qa, project: sec-a}\nspec: {type: staging, clusterProfile: imaginary}\n")
    applied = control_plane.tptctl("apply", "-f", manifest)
    assert applied.code == 3 and "clusterProfile 'imaginary' does not exist" in applied.err
    assert control_plane.tptctl("get", "environment", "qa", "-p", "sec-a").code == 3


def test_a_bad_name_is_reported_as_metadata_name_with_its_value(control_plane: ControlPlane, tmp_path: Path) -> None:
    manifest = write(tmp_path, APP.format(name="Bad_Name", annotations="", extra=""))
    applied = control_plane.tptctl("apply", "-f", manifest)
    assert applied.code == 5, applied.err
    assert "metadata.name: 'Bad_Name' must be a DNS-1123 label" in applied.err
    assert "application_id" not in applied.err
