"""The tenancy matrix: every role of one project, every verb against the other project - reads,
watch, events, plan, releases, pod logs, creates, updates, deletes, actions - is PERMISSION_DENIED, and
within its own project a role can do what it grants and no more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.security.conftest import ROLES, Tenants
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport.sdk import ApiError, Client, NotFoundError, PermissionDeniedError


def spec() -> application_pb2.Application:
    found = application_pb2.Application()
    found.spec.components["api"].image = "registry.example.com/matrix/api:1.0.0"
    return found


def verbs(project: str) -> dict[str, tuple[str, Callable[[Client], Any]]]:
    """name -> (the role it needs, the call) on ``project``."""
    parent = f"projects/{project}"
    return {
        "list applications": ("viewer", lambda c: c.application.list_applications_page(parent=parent)),
        "get application": ("viewer", lambda c: c.application.get_application(name=f"{parent}/applications/nope")),
        "watch applications": ("viewer", lambda c: next(iter(c.application.watch_applications(
            parent=parent, timeout=30)))),
        "list environments": ("viewer", lambda c: c.environment.list_environments_page(parent=parent)),
        "list deployments": ("viewer", lambda c: c.deployment.list_deployments_page(parent=parent)),
        "registry events": ("viewer", lambda c: c.registry_event.list_events_page(parent=parent)),
        "delivery events": ("viewer", lambda c: c.delivery_event.list_events_page(parent=parent)),
        "plan": ("viewer", lambda c: c.deployment.plan(parent=parent, application="nope", environment="dev")),
        "releases": ("viewer", lambda c: c.release.list_releases_page(parent=f"{parent}/deployments/nope-dev")),
        "logs": ("viewer", lambda c: list(c.deployment.stream_logs(name=f"{parent}/deployments/nope-dev",
                                                                   timeout=30))),
        "create application": ("deployer", lambda c: c.application.create_application(
            parent=parent, application_id="matrix", application=spec(), validate_only=True)),
        "deploy": ("deployer", lambda c: c.deployment.deploy(
            parent=parent, application="nope", environment="dev", validate_only=True)),
        "delete application": ("deployer", lambda c: c.application.delete_application(
            name=f"{parent}/applications/nope", validate_only=True)),
        "create environment": ("admin", lambda c: c.environment.create_environment(
            parent=parent, environment_id="matrix", validate_only=True,
            environment=environment_pb2.Environment(spec=environment_pb2.EnvironmentSpec(type=environment_pb2.ENVIRONMENT_TYPE_STAGING)))),
        "approve": ("admin", lambda c: c.deployment.approve(name=f"{parent}/deployments/nope-dev")),
    }


RANK = {role: index for index, role in enumerate(ROLES)}


@pytest.mark.parametrize("role", ROLES)
def test_no_role_of_one_project_reaches_the_other(tenants: Tenants, role: str) -> None:
    for own, other in (("sec-a", "sec-b"), ("sec-b", "sec-a")):
        client = tenants.client(own, role)
        for verb, (_needed, call) in verbs(other).items():
            try:
                call(client)
            except PermissionDeniedError:
                continue
            except ApiError as error:
                raise AssertionError(f"{role} of {own} -> {other}: {verb} gave {error}") from None
            raise AssertionError(f"{role} of {own} -> {other}: {verb} succeeded")


@pytest.mark.parametrize("role", ROLES)
def test_within_its_project_a_role_does_what_it_grants_and_no_more(tenants: Tenants, role: str) -> None:
    client = tenants.client("sec-a", role)
    for verb, (needed, call) in verbs("sec-a").items():
        if RANK[role] >= RANK[needed]:
            try:
                call(client)
            except PermissionDeniedError as error:
                raise AssertionError(f"{role} may {verb}: {error}") from None
            except (NotFoundError, ApiError):
                pass  # allowed through; the target does not exist or the action does not apply
        else:
            with pytest.raises(PermissionDeniedError):
                call(client)
