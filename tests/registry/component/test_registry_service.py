"""The registry through its gRPC API: CRUD conventions, validation, defaults, builds, Score,
service-class resolution and readiness — against real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf import field_mask_pb2, struct_pb2

from tests.registry.component.conftest import DEPLOYER, OPERATOR, ClientFor
from threeport.registry.v1alpha1 import (
    application_pb2,
    build_pb2,
    cluster_profile_pb2,
    environment_pb2,
    service_class_pb2,
)
from threeport.sdk import (
    NO_RETRY,
    AbortedError,
    AsyncClient,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from threeport_runtime.testing import TEST_CREDENTIAL, wait_until


def shop(image: str = "registry.example.com/shop/api:1.0.0", **labels: str) -> application_pb2.Application:
    spec = application_pb2.ApplicationSpec(
        components={"api": application_pb2.Component(
            image=image, ports=[application_pb2.Port(name="http", port=8080)],
            env={"DATABASE_URL": "${dependencies.db.url}"})},
        dependencies={"db": application_pb2.Dependency(type="postgres", **{"class": "small"})},
    )
    return application_pb2.Application(spec=spec, labels=labels)


async def test_system_defaults_are_listed(client_as: ClientFor) -> None:
    client = client_as(OPERATOR)
    profiles = [p async for p in client.cluster_profile.list_cluster_profiles()]
    assert {p.name for p in profiles} >= {"clusterProfiles/standard", "clusterProfiles/dev"}
    assert all(p.status.system_default for p in profiles)
    classes = [c async for c in client.service_class.list_service_classes()]
    assert any(c.spec.type == "postgres" for c in classes)
    with pytest.raises(FailedPreconditionError, match="system default"):
        await client.cluster_profile.delete_cluster_profile(name="clusterProfiles/standard")


async def test_create_becomes_ready_with_derived_status(client_as: ClientFor) -> None:
    client = client_as(DEPLOYER)
    created = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=shop(team="web"))
    assert created.name == "projects/acme/applications/shop" and created.reconciling

    ready = await client.application.wait_ready(created.name, timeout=20)

    assert list(ready.status.dependency_types) == ["postgres"]
    events = [e async for e in client.registry_event.list_events(parent=created.name)]
    assert [e.reason for e in events] == ["Accepted"]


async def test_bad_input_names_every_field_and_writes_nothing(client_as: ClientFor) -> None:
    client = client_as(DEPLOYER)
    bad = shop(image="Not An Image")
    bad.spec.dependencies["db"].type = "postgress"
    with pytest.raises(InvalidArgumentError) as raised:
        await client.application.create_application(parent="projects/acme", application_id="Shop", application=bad)
    fields = {v.field for v in raised.value.field_violations}
    assert {"application_id", "application.spec.components[api].image",
            "application.spec.dependencies[db].type"} <= fields
    assert "postgres" in next(v.description for v in raised.value.field_violations
                              if v.field == "application.spec.dependencies[db].type")
    assert [a async for a in client.application.list_applications(parent="projects/acme")] == []


async def test_etag_conflicts_request_ids_and_dry_runs(client_as: ClientFor) -> None:
    client = client_as(DEPLOYER)
    first = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=shop(), request_id="r-1")
    again = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=shop(), request_id="r-1")
    assert again.uid == first.uid

    dry = await client.application.create_application(
        parent="projects/acme", application_id="dry", application=shop(), validate_only=True)
    assert dry.name.endswith("/dry")
    with pytest.raises(NotFoundError):
        await client.application.get_application(name="projects/acme/applications/dry")

    # Status writes by the controller change the etag too, so read what is current first.
    current = await client.application.wait_ready(first.name, timeout=20)
    changed = application_pb2.Application()
    changed.CopyFrom(current)
    changed.spec.components["api"].image = "registry.example.com/shop/api:2.0.0"
    updated = await client.application.update_application(application=changed)
    assert updated.generation == 2
    with pytest.raises(AbortedError):
        await client.application.update_application(application=changed)  # its etag is stale now


async def test_pagination_and_label_filters(client_as: ClientFor) -> None:
    client = client_as(DEPLOYER)
    for index in range(7):
        team = "web" if index % 2 else "data"
        await client.application.create_application(
            parent="projects/acme", application_id=f"app{index}", application=shop(team=team))
    page = await client.application.list_applications_page(parent="projects/acme", page_size=3)
    assert len(page.applications) == 3 and page.next_page_token
    everything = [a.name async for a in client.application.list_applications(parent="projects/acme", page_size=3)]
    assert len(everything) == 7 and everything == sorted(everything)
    web = [a.name async for a in client.application.list_applications(
        parent="projects/acme", filter='labels.team = "web"')]
    assert len(web) == 3


async def test_watch_sees_creation_and_readiness(client_as: ClientFor) -> None:
    client = client_as(DEPLOYER)
    seen: list[tuple[int, bool]] = []

    async def follow() -> None:
        async for event in client.application.watch_applications(parent="projects/acme"):
            if event.application.name:
                ready = any(c.type == "Ready" and c.status == 1 for c in event.application.conditions)
                seen.append((event.type, ready))
                if ready:
                    return

    watcher = asyncio.create_task(follow())
    await asyncio.sleep(0.3)
    await client.application.create_application(parent="projects/acme", application_id="shop", application=shop())
    await asyncio.wait_for(watcher, 20)
    assert seen[0][0] == 1 and seen[-1][1] is True


async def test_projects_are_isolated_by_role(client_as: ClientFor) -> None:
    with pytest.raises(PermissionDeniedError):
        await client_as(DEPLOYER).application.create_application(
            parent="projects/other", application_id="shop", application=shop())
    with pytest.raises(PermissionDeniedError):
        await client_as("viewer@projects/acme").application.create_application(
            parent="projects/acme", application_id="shop", application=shop())
    with pytest.raises(PermissionDeniedError):
        await client_as(DEPLOYER).cluster_profile.create_cluster_profile(cluster_profile_id="x")


async def test_builds_are_recorded_validated_and_shown_on_the_application(client_as: ClientFor) -> None:
    client = client_as(DEPLOYER)
    app = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=shop())
    build = build_pb2.Build(spec=build_pb2.BuildSpec(
        component="api", image="registry.example.com/shop/api:1.1.0", branch="main", commit="a1b2c3d"))
    reported = await client.build.report_build(parent=app.name, build=build)
    assert reported.name.startswith(f"{app.name}/builds/b")

    async def latest() -> str:
        return (await client.application.get_application(name=app.name)).status.latest_builds.get("api", "")

    for _ in range(200):
        if await latest() == reported.name:
            break
        await asyncio.sleep(0.05)
    assert await latest() == reported.name

    wrong = build_pb2.Build(spec=build_pb2.BuildSpec(component="web", image="registry.example.com/x:1"))
    with pytest.raises(InvalidArgumentError, match="not a component"):
        await client.build.report_build(parent=app.name, build=wrong)
    with pytest.raises(NotFoundError, match="apply it before reporting builds"):
        await client.build.report_build(parent="projects/acme/applications/nope", build=build)


async def test_the_application_shows_each_components_newest_build(client_as: ClientFor) -> None:
    client = client_as(DEPLOYER)
    spec = shop().spec
    spec.components["web"].CopyFrom(application_pb2.Component(image="registry.example.com/shop/web:1"))
    app = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=application_pb2.Application(spec=spec))
    newest: dict[str, str] = {}
    for component, version in (("api", "1.1"), ("web", "1"), ("api", "1.2"), ("web", "2"), ("api", "1.3")):
        build = build_pb2.Build(spec=build_pb2.BuildSpec(
            component=component, image=f"registry.example.com/shop/{component}:{version}", branch="main"))
        newest[component] = (await client.build.report_build(parent=app.name, build=build)).name

    async def latest() -> dict[str, str]:
        return dict((await client.application.get_application(name=app.name)).status.latest_builds)

    for _ in range(200):
        if await latest() == newest:
            break
        await asyncio.sleep(0.05)
    assert await latest() == newest


async def test_a_deleted_application_takes_its_builds_and_events_with_it(client_as: ClientFor) -> None:
    """Re-created under the same name (or in a re-created project), an application starts with
    no builds and no events of the old one."""
    client = client_as(DEPLOYER)
    app = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=shop())
    await client.application.wait_ready(app.name, timeout=20)
    build = build_pb2.Build(spec=build_pb2.BuildSpec(
        component="api", image="registry.example.com/shop/api:1.1.0", branch="main"))
    reported = await client.build.report_build(parent=app.name, build=build)
    assert [e async for e in client.registry_event.list_events(parent=app.name)]

    await client.application.delete_application(name=app.name)
    with pytest.raises(NotFoundError):
        await client.build.get_build(name=reported.name)
    assert [b async for b in client.build.list_builds(parent=app.name)] == []
    assert [e async for e in client.registry_event.list_events(parent=app.name)] == []

    again = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=shop())
    ready = await client.application.wait_ready(again.name, timeout=20)
    assert dict(ready.status.latest_builds) == {}
    assert [b async for b in client.build.list_builds(parent=again.name)] == []
    events = [e async for e in client.registry_event.list_events(parent=again.name)]
    assert {e.resource_uid for e in events} == {again.uid}


async def test_score_files_convert_to_applications(client_as: ClientFor) -> None:
    score = """
apiVersion: score.dev/v1b1
metadata: {name: web}
containers:
  main:
    image: nginx:1.27
    variables: {DB: "${resources.db.host}"}
service:
  ports: {http: {port: 80, targetPort: 8080}}
resources:
  db: {type: postgres}
"""
    converted = await client_as(DEPLOYER).application.convert_score(parent="projects/acme", score_yaml=score)
    spec = converted.application.spec
    assert spec.components["main"].env["DB"] == "${dependencies.db.host}"
    assert spec.dependencies["db"].type == "postgres"
    with pytest.raises(InvalidArgumentError):
        await client_as(DEPLOYER).application.convert_score(
            parent="projects/acme", score_yaml=score.replace("postgres", "quantum-db"))


async def test_service_classes_resolve_most_specific_first(client_as: ClientFor) -> None:
    admin = client_as("admin@projects/acme")
    for env_id, env_type in (("dev", environment_pb2.ENVIRONMENT_TYPE_DEVELOPMENT),
                             ("prod", environment_pb2.ENVIRONMENT_TYPE_PRODUCTION)):
        await admin.environment.create_environment(
            parent="projects/acme", environment_id=env_id,
            environment=environment_pb2.Environment(spec=environment_pb2.EnvironmentSpec(type=env_type)))
    dev = await admin.service_class.resolve_service_class(
        parent="projects/acme", environment="projects/acme/environments/dev", type="postgres")
    prod = await admin.service_class.resolve_service_class(
        parent="projects/acme", environment="projects/acme/environments/prod", type="postgres")
    assert dev.service_class.spec.implementation == "local"
    assert prod.service_class.spec.implementation == "aws-rds"

    special = service_class_pb2.ServiceClass(spec=service_class_pb2.ServiceClassSpec(
        type="postgres", implementation="local",
        parameters=struct_pb2.Struct(fields={"size": struct_pb2.Value(string_value="tiny")}),
        scope=service_class_pb2.ServiceClassScope(environment="projects/acme/environments/prod"),
        **{"class": "*"}))
    await client_as(OPERATOR).service_class.create_service_class(
        service_class_id="prod-postgres", service_class=special)
    chosen = await admin.service_class.resolve_service_class(
        parent="projects/acme", environment="projects/acme/environments/prod", type="postgres")
    assert chosen.service_class.name == "serviceClasses/prod-postgres" and chosen.matched_by == "environment"


async def test_environment_naming_a_missing_profile_is_refused(client_as: ClientFor) -> None:
    admin = client_as("admin@projects/acme")
    with pytest.raises(NotFoundError) as raised:
        await admin.environment.create_environment(
            parent="projects/acme", environment_id="qa",
            environment=environment_pb2.Environment(spec=environment_pb2.EnvironmentSpec(cluster_profile="huge")))
    assert "clusterProfile 'huge' does not exist" in raised.value.message
    with pytest.raises(NotFoundError):
        await admin.environment.get_environment(name="projects/acme/environments/qa")


async def test_environment_overrides_must_name_an_existing_component(client_as: ClientFor) -> None:
    admin = client_as("admin@projects/acme")
    await client_as(DEPLOYER).application.create_application(
        parent="projects/acme", application_id="shop", application=shop())

    def env(**fields: object) -> environment_pb2.Environment:
        return environment_pb2.Environment(spec=environment_pb2.EnvironmentSpec(
            overrides=[environment_pb2.ComponentOverride(**fields)]))  # type: ignore[arg-type]

    with pytest.raises(InvalidArgumentError) as raised:
        await admin.environment.create_environment(
            parent="projects/acme", environment_id="qa", environment=env(application="shop", component="web",
                                                                         replicas=2))
    assert [(v.field, v.description) for v in raised.value.field_violations] == [(
        "environment.spec.overrides[0].component",
        "application 'shop' has no component 'web'; its components: api")]
    with pytest.raises(InvalidArgumentError) as shape:
        await admin.environment.create_environment(
            parent="projects/acme", environment_id="qa", environment=env(application="shop", component="api",
                                                                         replicas=0))
    assert [v.field for v in shape.value.field_violations] == ["environment.spec.overrides[0].replicas"]
    with pytest.raises(NotFoundError, match="'nope'"):
        await admin.environment.create_environment(
            parent="projects/acme", environment_id="qa", environment=env(application="nope", component="api"))
    with pytest.raises(NotFoundError):
        await admin.environment.get_environment(name="projects/acme/environments/qa")

    created = await admin.environment.create_environment(
        parent="projects/acme", environment_id="qa",
        environment=env(application="shop", component="api", replicas=3, env={"LOG_LEVEL": "debug"}))
    assert created.spec.overrides[0].replicas == 3
    created.spec.overrides[0].component = "web"
    with pytest.raises(InvalidArgumentError, match="no component 'web'"):
        await admin.environment.update_environment(environment=created)
    stored = await admin.environment.get_environment(name=created.name)
    assert stored.spec.overrides[0].component == "api"


async def test_environment_whose_profile_is_deleted_is_not_ready_until_it_exists(client_as: ClientFor) -> None:
    admin = client_as("admin@projects/acme")
    operator = client_as(OPERATOR)
    await operator.cluster_profile.create_cluster_profile(
        cluster_profile_id="huge", cluster_profile=cluster_profile_pb2.ClusterProfile(
            spec=cluster_profile_pb2.ClusterProfileSpec(provider="sim", location="Europe:Frankfurt")))
    env = await admin.environment.create_environment(
        parent="projects/acme", environment_id="qa",
        environment=environment_pb2.Environment(spec=environment_pb2.EnvironmentSpec(cluster_profile="huge")))

    async def ready_reason() -> str:
        stored = await admin.environment.get_environment(name=env.name)
        return next((c.reason for c in stored.conditions if c.type == "Ready"), "")

    await operator.cluster_profile.delete_cluster_profile(name="clusterProfiles/huge")
    await admin.environment.update_environment(environment=environment_pb2.Environment(
        name=env.name, labels={"touched": "yes"}), update_mask=field_mask_pb2.FieldMask(paths=["labels"]))
    for _ in range(200):
        if await ready_reason() == "ClusterProfileNotFound":
            break
        await asyncio.sleep(0.05)
    assert await ready_reason() == "ClusterProfileNotFound"


async def test_build_ids_sort_in_report_order(client_as: ClientFor) -> None:
    client = client_as(DEPLOYER)
    app = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=shop())
    names = []
    for version in range(5):  # well within one second: order must not depend on chance
        build = build_pb2.Build(spec=build_pb2.BuildSpec(
            component="api", image=f"registry.example.com/shop/api:1.{version}.0"))
        names.append((await client.build.report_build(parent=app.name, build=build)).name)
    assert names == sorted(names)


async def test_builds_record_the_environments_whose_rules_match_and_the_newest_is_listed(
    client_as: ClientFor,
) -> None:
    admin = client_as("admin@projects/acme")
    rules = {"dev": [environment_pb2.AutoDeployRule(branch="main")],
             "prod": [environment_pb2.AutoDeployRule(tag="v*")]}
    for env_id, env_rules in rules.items():
        await admin.environment.create_environment(
            parent="projects/acme", environment_id=env_id,
            environment=environment_pb2.Environment(spec=environment_pb2.EnvironmentSpec(auto_deploy=env_rules)))
    client = client_as(DEPLOYER)
    app = await client.application.create_application(
        parent="projects/acme", application_id="shop", application=shop())

    async def reported(**git: str) -> build_pb2.Build:
        build = build_pb2.Build(spec=build_pb2.BuildSpec(
            component="api", image="registry.example.com/shop/api:1.0.0", **git))
        made = await client.build.report_build(parent=app.name, build=build)

        async def recorded() -> build_pb2.Build | None:
            found = await client.build.get_build(name=made.name)
            return found if any(c.type == "Ready" for c in found.conditions) else None

        found: build_pb2.Build = await wait_until(recorded, within=30.0, interval=0.05,
                                                  what=f"{made.name} to be recorded")
        return found

    main = await reported(branch="main")
    assert list(main.status.environments) == ["projects/acme/environments/dev"]
    tagged = await reported(tag="v1.0.0")
    assert list(tagged.status.environments) == ["projects/acme/environments/prod"]
    other = await reported(branch="feature/x")
    assert list(other.status.environments) == []
    newer_main = await reported(branch="main")

    dev = await client.build.list_latest_builds(parent=app.name, environment="projects/acme/environments/dev")
    assert {k: v.name for k, v in dev.builds.items()} == {"api": newer_main.name}
    prod = await client.build.list_latest_builds(parent=app.name, environment="projects/acme/environments/prod")
    assert {k: v.name for k, v in prod.builds.items()} == {"api": tagged.name}
    nowhere = await client.build.list_latest_builds(parent=app.name, environment="projects/acme/environments/qa")
    assert dict(nowhere.builds) == {}
    with pytest.raises(InvalidArgumentError, match="environment"):
        await client.build.list_latest_builds(parent=app.name, environment="dev")

    # The batch form answers each pair as the single call does, in the order asked.
    other = await client.application.create_application(
        parent="projects/acme", application_id="cart", application=shop())
    asked = [(app.name, "projects/acme/environments/prod"), (other.name, "projects/acme/environments/dev"),
             (app.name, "projects/acme/environments/dev"), (app.name, "projects/acme/environments/qa"),
             (app.name, "projects/acme/environments/prod")]
    async with service_client(client) as service:
        batch = await service.internal.build.batch_list_latest_builds(requests=[
            build_pb2.ListLatestBuildsRequest(parent=parent, environment=environment) for parent, environment in asked])
    singles = [await client.build.list_latest_builds(parent=parent, environment=environment)
               for parent, environment in asked]
    assert list(batch.responses) == singles
    assert [{k: v.name for k, v in answer.builds.items()} for answer in batch.responses] == [
        {"api": tagged.name}, {}, {"api": newer_main.name}, {}, {"api": tagged.name}]


def service_client(client: AsyncClient) -> AsyncClient:
    """A client of the same registry calling as a Threeport service (no principal): internal
    methods admit only those."""
    return AsyncClient(client.target, metadata=[("authorization", f"Service {TEST_CREDENTIAL}")], retry=NO_RETRY)


async def test_batch_latest_builds_rejects_bad_requests_and_people(client_as: ClientFor) -> None:
    person = client_as(OPERATOR)
    async with service_client(person) as service:
        await batch_rejections(person, service)


async def batch_rejections(person: AsyncClient, service: AsyncClient) -> None:
    good = build_pb2.ListLatestBuildsRequest(
        parent="projects/acme/applications/shop", environment="projects/acme/environments/dev")
    with pytest.raises(PermissionDeniedError, match="internal"):
        await person.internal.build.batch_list_latest_builds(requests=[good])
    bad = [good, build_pb2.ListLatestBuildsRequest(parent="projects/acme/applications/shop", environment="dev"),
           build_pb2.ListLatestBuildsRequest(parent="shop", environment="projects/other/environments/dev")]
    with pytest.raises(InvalidArgumentError) as raised:
        await service.internal.build.batch_list_latest_builds(requests=bad)
    fields = {violation.field for violation in raised.value.field_violations}
    assert fields == {"requests[1].environment", "requests[2].parent", "requests[2].environment"}, raised.value
    with pytest.raises(InvalidArgumentError, match="at most 1000"):
        await service.internal.build.batch_list_latest_builds(requests=[good] * 1001)
    assert list((await service.internal.build.batch_list_latest_builds(requests=[])).responses) == []
    assert [dict(r.builds) for r in (await service.internal.build.batch_list_latest_builds(
        requests=[good] * 1000)).responses] == [{}] * 1000
