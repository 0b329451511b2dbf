"""Which deployments name an application: asked for every change event of an application or of
one of its builds, answered by one statement through an index (migration 0005)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import NoReturn

import psycopg
import pytest
from sqlalchemy.dialects import postgresql

from threeport.common.v1alpha1 import change_event_pb2
from threeport.delivery.v1alpha1 import deployment_pb2
from threeport_runtime.db.engine import libpq_url
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.runtime import ServiceRuntime
from threeport_runtime.testing import make_settings
from threeport_workload_delivery.service import DEFINITION as DELIVERY
from threeport_workload_delivery.service import FILTERS
from threeport_workload_delivery.store.tables import DeploymentRow
from threeport_workload_delivery.watches import DeploymentsNaming, ProjectDeployments


def deployment(application: str, environment: str = "dev") -> deployment_pb2.Deployment:
    found = deployment_pb2.Deployment()
    found.spec.application, found.spec.environment = application, environment
    return found


Deployments = ResourceRepository[deployment_pb2.Deployment, DeploymentRow]


@pytest.fixture
async def deployments(database_url: str, stream_prefix: str) -> AsyncIterator[Deployments]:
    await asyncio.to_thread(upgrade, DELIVERY.migrations_dir, database_url)
    runtime = ServiceRuntime(make_settings("workload_delivery", database_url, stream_prefix), DELIVERY.schema)
    try:
        yield runtime.repository(DeploymentRow, deployment_pb2.Deployment, filter_fields=FILTERS)
    finally:
        await runtime.close()


async def test_an_application_event_maps_to_the_deployments_of_its_project_naming_it(deployments: Deployments) -> None:
    for project, name, application in (("acme", "ledger-dev", "ledger"), ("acme", "ledger-prod", "ledger"),
                                       ("acme", "rates-dev", "rates"), ("other", "ledger-dev", "ledger")):
        await deployments.create(deployment(application), name=f"projects/{project}/deployments/{name}")
    naming = DeploymentsNaming(deployments, "spec.application")
    build = change_event_pb2.ChangeEvent(name="projects/acme/applications/ledger/builds/b1")
    assert await naming(build) == ["projects/acme/deployments/ledger-dev", "projects/acme/deployments/ledger-prod"]
    assert await naming(change_event_pb2.ChangeEvent(name="projects/acme/applications/rates")) == [
        "projects/acme/deployments/rates-dev"]
    assert await naming(change_event_pb2.ChangeEvent(name="projects/acme/applications/unused")) == []
    environment = DeploymentsNaming(deployments, "spec.environment")
    assert len(await environment(change_event_pb2.ChangeEvent(name="projects/acme/environments/dev"))) == 3


async def test_a_registry_credential_event_maps_to_every_deployment_of_its_project_by_name_only(
    deployments: Deployments, monkeypatch: pytest.MonkeyPatch
) -> None:
    for project, name in (("acme", "ledger-dev"), ("other", "ledger-dev"), ("acme", "rates-dev")):
        await deployments.create(deployment("ledger"), name=f"projects/{project}/deployments/{name}")

    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError("a deployment was converted to a message")

    monkeypatch.setattr(deployments, "to_message", refuse)
    credential = change_event_pb2.ChangeEvent(name="projects/acme/registryCredentials/ghcr")
    assert await ProjectDeployments(deployments)(credential) == [
        "projects/acme/deployments/ledger-dev", "projects/acme/deployments/rates-dev"]
    assert await ProjectDeployments(deployments)(
        change_event_pb2.ChangeEvent(name="projects/empty/registryCredentials/ghcr")) == []


async def test_the_deployments_of_an_application_are_read_through_the_index_even_as_a_generic_plan(
    deployments: Deployments, database_url: str
) -> None:
    compiled = deployments.names_with_read("spec.application").statement.compile(
        dialect=postgresql.dialect(paramstyle="numeric_dollar"))
    # The key is in the text (an expression index serves only statements naming the same key);
    # the application and the project are parameters.
    assert "->> 'application'" in str(compiled) and len(compiled.params) == 2
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url), autocommit=True) as connection:
        # A generic plan is what a statement prepared and run many times ends up with.
        # Sequential scans off so that the planner picks the index on an empty table if it can.
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        await connection.execute("SET enable_seqscan = off")
        await connection.execute(f"PREPARE naming AS {compiled}")
        plan = [row[0] for row in await (await connection.execute(
            "EXPLAIN EXECUTE naming('ledger', 'projects/acme')")).fetchall()]
    assert any("ix_deployments_spec_application" in line for line in plan), plan
