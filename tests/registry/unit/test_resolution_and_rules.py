"""Service-class resolution precedence, auto-deploy glob matching, and normalisation."""

from __future__ import annotations

import pytest

from tests.registry.unit.manifests import application
from threeport.registry.v1alpha1 import environment_pb2, service_class_pb2
from threeport_registry.domain import defaults
from threeport_registry.domain.normalise import normalise_application, normalise_environment
from threeport_registry.domain.resolution import resolve_service_class

PROD = environment_pb2.ENVIRONMENT_TYPE_PRODUCTION
STAGING = environment_pb2.ENVIRONMENT_TYPE_STAGING


def _class(
    name: str,
    class_name: str = "*",
    *,
    project: str = "",
    env: str = "",
    env_type: int = 0,
    system_default: bool = False,
    type_name: str = "postgres",
) -> service_class_pb2.ServiceClass:
    spec = service_class_pb2.ServiceClassSpec(
        type=type_name,
        implementation=name,
        scope=service_class_pb2.ServiceClassScope(
            project=project, environment=env, environment_type=env_type
        ),
    )
    setattr(spec, "class", class_name)
    return service_class_pb2.ServiceClass(
        name=f"serviceClasses/{name}",
        spec=spec,
        status=service_class_pb2.ServiceClassStatus(system_default=system_default),
    )


def _env(env_type: int = PROD, overrides: dict[str, str] | None = None) -> environment_pb2.Environment:
    env = environment_pb2.Environment(name="projects/acme/environments/prod")
    env.spec.type = env_type
    env.spec.service_classes.update(overrides or {})
    return env


def _resolve(
    classes: list[service_class_pb2.ServiceClass],
    env: environment_pb2.Environment | None = None,
    requested: str = "small",
) -> tuple[str, str, str] | None:
    result = resolve_service_class(
        classes,
        project="projects/acme",
        environment=env or _env(),
        dependency_type="postgres",
        requested_class=requested,
    )
    if result is None:
        return None
    return result.service_class.spec.implementation, result.matched_by, result.effective_class


ALL = [
    _class("default-any", system_default=True),
    _class("project-any", project="projects/acme"),
    _class("type-any", env_type=PROD),
    _class("env-any", env="projects/acme/environments/prod"),
]


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (ALL, ("env-any", "environment", "small")),
        (ALL[:3], ("type-any", "environmentType", "small")),
        (ALL[:2], ("project-any", "project", "small")),
        (ALL[:1], ("default-any", "default", "small")),
        # Scope beats class exactness: an environment-wide `*` wins over a project-level exact class.
        (
            [_class("project-small", "small", project="projects/acme"), ALL[3]],
            ("env-any", "environment", "small"),
        ),
        # Within a scope level the exact class beats `*`.
        ([ALL[2], _class("type-small", "small", env_type=PROD)], ("type-small", "environmentType", "small")),
        # More scope fields set beat fewer at the same level.
        (
            [ALL[2], _class("type-project", env_type=PROD, project="projects/acme")],
            ("type-project", "environmentType", "small"),
        ),
        # User-defined beats a system default of the same specificity.
        ([_class("a-system", system_default=True), _class("z-user")], ("z-user", "default", "small")),
        # Otherwise the smaller name wins, whatever the order.
        ([_class("b"), _class("a")], ("a", "default", "small")),
        ([_class("a"), _class("b")], ("a", "default", "small")),
        # Classes that do not fit are skipped.
        (
            [
                _class("other-class", "large"),
                _class("other-type", type_name="mysql"),
                _class("other-project", project="projects/beta"),
                _class("staging", env_type=STAGING),
                _class("other-env", env="projects/acme/environments/dev"),
            ],
            None,
        ),
    ],
)
def test_most_specific_service_class_wins(
    classes: list[service_class_pb2.ServiceClass], expected: tuple[str, str, str] | None
) -> None:
    assert _resolve(classes) == expected


def test_the_environment_override_applies_first() -> None:
    classes = [_class("small", "small"), _class("large", "large")]

    assert _resolve(classes, _env(overrides={"postgres": "large"})) == ("large", "default", "large")
    assert _resolve(classes, _env(overrides={"redis": "large"})) == ("small", "default", "small")


def test_an_empty_class_means_default_and_unspecified_type_means_development() -> None:
    classes = [
        _class("dev", env_type=environment_pb2.ENVIRONMENT_TYPE_DEVELOPMENT),
        _class("default-class", "default"),
    ]

    assert _resolve(classes, _env(env_type=0), requested="") == ("dev", "environmentType", "default")


def test_classes_being_deleted_are_not_chosen() -> None:
    deleting = _class("deleting", env_type=PROD)
    deleting.delete_time.GetCurrentTime()

    assert _resolve([deleting, _class("fallback")]) == ("fallback", "default", "small")


def test_system_defaults_pick_local_in_development_and_cloud_in_production() -> None:
    classes = defaults.default_service_classes()

    def implementation(type_name: str, env_type: int) -> str:
        result = resolve_service_class(
            classes,
            project="projects/acme",
            environment=_env(env_type),
            dependency_type=type_name,
            requested_class="",
        )
        assert result is not None
        return result.service_class.spec.implementation

    assert implementation("postgres", PROD) == "aws-rds"
    assert implementation("redis", PROD) == "aws-elasticache"
    assert implementation("bucket", PROD) == "aws-s3"
    assert implementation("secret", PROD) == "aws-secretsmanager"
    assert implementation("postgres", STAGING) == "local"
    assert implementation("mysql", 0) == "local"
    assert implementation("ingress", PROD) == "ingress-nginx"
    assert implementation("tls", STAGING) == "cert-manager"


def test_normalise_application_fills_defaults_only() -> None:
    original = application()
    original.spec.components["api"].ports.add(name="metrics", port=9090)

    normalised = normalise_application(original)

    api, worker = normalised.spec.components["api"], normalised.spec.components["worker"]
    assert (api.replicas, worker.replicas) == (2, 1)
    assert [(p.name, p.protocol) for p in api.ports] == [("http", "TCP"), ("metrics", "TCP")]
    assert getattr(normalised.spec.dependencies["db"], "class") == "small"
    assert getattr(normalised.spec.dependencies["web"], "class") == "default"
    readiness, liveness = api.probes.readiness, api.probes.liveness
    assert (readiness.period_seconds, readiness.timeout_seconds, readiness.failure_threshold) == (10, 1, 3)
    assert liveness.failure_threshold == 5
    assert not api.probes.HasField("startup")
    assert original.spec.components["worker"].replicas == 0  # the argument is left alone


def test_normalise_environment() -> None:
    normalised = normalise_environment(environment_pb2.Environment())

    assert normalised.spec.type == environment_pb2.ENVIRONMENT_TYPE_DEVELOPMENT
    assert normalised.spec.namespace_template == "{project}-{application}-{environment}"
