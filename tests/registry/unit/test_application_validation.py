"""Application validation: the DESIGN §10.1 example is clean; each bad input gives exactly the
expected field path and a description that says what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.registry.unit.manifests import DELETE, application, ledger_with
from threeport_registry.domain.application import check_application, validate_application
from threeport_runtime.errors import InvalidArgument

API = "application.spec.components[api]"
WORKER = "application.spec.components[worker]"
DEPS = "application.spec.dependencies"

# (path in the ledger spec to replace, new value, expected field path, words the description has)
BAD_SPECS: list[tuple[str, Any, str, tuple[str, ...]]] = [
    ("components.Api", {"image": "nginx"}, "application.spec.components[Api]", ("lowercase", "letter")),
    ("components.api.image", "", f"{API}.image", ("required", "registry")),
    (
        "components.api.image",
        "Registry.example.com/Ledger:1",
        f"{API}.image",
        ("path component", "lowercase"),
    ),
    ("components.api.image", "nginx:-bad", f"{API}.image", ("invalid tag",)),
    ("components.api.image", "nginx@sha256:abc", f"{API}.image", ("64 lowercase hex",)),
    ("components.api.image", "reg.io:99999/app", f"{API}.image", ("invalid registry", "host[:port]")),
    ("components.api.image", "my app", f"{API}.image", ("whitespace",)),
    ("components.api.command", ["run", "${dependencies.db.url}"], f"{API}.command[1]", ("$(VAR)",)),
    ("components.api.replicas", -1, f"{API}.replicas", ("0-1000",)),
    ("components.api.replicas", 5000, f"{API}.replicas", ("0-1000",)),
    (
        "components.worker.ports",
        [{"name": "http-server-port", "port": 80}],
        f"{WORKER}.ports[0].name",
        ("at most 15",),
    ),
    ("components.worker.ports", [{"port": 80}], f"{WORKER}.ports[0].name", ("required",)),
    (
        "components.worker.ports",
        [{"name": "80", "port": 80}],
        f"{WORKER}.ports[0].name",
        ("at least one letter",),
    ),
    ("components.worker.ports", [{"name": "a--b", "port": 80}], f"{WORKER}.ports[0].name", ("double '-'",)),
    ("components.api.ports.0.port", 70000, f"{API}.ports[0].port", ("1-65535",)),
    ("components.api.ports.0.protocol", "HTTP", f"{API}.ports[0].protocol", ("TCP, UDP, SCTP",)),
    (
        "components.api.ports",
        [{"name": "http", "port": 80}, {"name": "http", "port": 81}],
        f"{API}.ports[1].name",
        ("used twice",),
    ),
    (
        "components.api.ports",
        [{"name": "http", "port": 80}, {"name": "alt", "port": 80, "protocol": "TCP"}],
        f"{API}.ports[1].port",
        ("80/TCP", "twice"),
    ),
    ("components.api.env.1BAD", "x", f"{API}.env[1BAD]", ("not starting with a digit",)),
    ("components.api.secretEnv", {"LOG_LEVEL": {"secret": "log"}}, f"{API}.secret_env[LOG_LEVEL]",
     ("also in env", "not both")),
    ("components.api.secretEnv", {"KEY": {"secret": "Bad_Name"}}, f"{API}.secret_env[KEY].secret",
     ("a secret name",)),
    ("components.api.secretEnv", {"1KEY": {"secret": "k"}}, f"{API}.secret_env[1KEY]", ("not starting",)),
    ("registryCredentials", ["ghcr", "Not Valid"], "application.spec.registry_credentials[1]",
     ("RegistryCredential id",)),
    (
        "components.api.env.DATABASE_URL",
        "${dependencies.cache.url}",
        f"{API}.env[DATABASE_URL]",
        ("undeclared dependency 'cache'", "declared: db, rates, web"),
    ),
    (
        "components.api.env.DATABASE_URL",
        "${dependencies.db.uri}",
        f"{API}.env[DATABASE_URL]",
        ("no output 'uri'", "database, host, password, port, url, username"),
    ),
    (
        "components.api.env.DATABASE_URL",
        "${env.HOME}",
        f"{API}.env[DATABASE_URL]",
        ("unknown namespace 'env'", "${dependencies.NAME.OUTPUT}"),
    ),
    (
        "components.api.env.DATABASE_URL",
        "${dependencies.db}",
        f"{API}.env[DATABASE_URL]",
        ("not of the form",),
    ),
    ("components.api.env.DATABASE_URL", "${dependencies.db.url", f"{API}.env[DATABASE_URL]", ("no closing",)),
    ("components.api.resources.cpu", "two", f"{API}.resources.cpu", ("Kubernetes quantity", "250m")),
    ("components.api.resources.cpu", "0", f"{API}.resources.cpu", ("more than 0",)),
    ("components.api.resources.cpu", "0.0001", f"{API}.resources.cpu", ("less than 1m",)),
    (
        "components.api.resources.memory",
        "256m",
        f"{API}.resources.memory",
        ("whole number of bytes", "256Mi"),
    ),
    ("components.api.resources.memory", "256MB", f"{API}.resources.memory", ("Kubernetes quantity",)),
    (
        "components.api.resources.limits.cpu",
        "100m",
        f"{API}.resources.limits.cpu",
        ("below the request 200m",),
    ),
    (
        "components.api.resources.limits.memory",
        "128Mi",
        f"{API}.resources.limits.memory",
        ("at least the request",),
    ),
    (
        "components.api.probes.readiness",
        {},
        f"{API}.probes.readiness",
        ("exactly one of http, tcp and exec",),
    ),
    (
        "components.api.probes.readiness",
        {"tcp": {"port": "http"}, "exec": {"command": ["true"]}},
        f"{API}.probes.readiness",
        ("found: tcp, exec",),
    ),
    (
        "components.api.probes.readiness.http.path",
        "healthz",
        f"{API}.probes.readiness.http.path",
        ("start with '/'",),
    ),
    (
        "components.api.probes.readiness.http.port",
        "web",
        f"{API}.probes.readiness.http.port",
        ("not a port of this component", "(http)"),
    ),
    ("components.api.probes.readiness.http.port", "0", f"{API}.probes.readiness.http.port", ("1-65535",)),
    (
        "components.api.probes.liveness",
        {"exec": {"command": []}},
        f"{API}.probes.liveness.exec.command",
        ("required",),
    ),
    (
        "components.api.probes.liveness.failureThreshold",
        -1,
        f"{API}.probes.liveness.failure_threshold",
        ("0-3600",),
    ),
    (
        "components.api.storage",
        [{"name": "data", "path": "var/lib", "size": "1Gi"}],
        f"{API}.storage[0].path",
        ("absolute", "start with '/'"),
    ),
    (
        "components.api.storage",
        [{"name": "data", "path": "/a/../b", "size": "1Gi"}],
        f"{API}.storage[0].path",
        ("normalised",),
    ),
    (
        "components.api.storage",
        [{"name": "data", "path": "/a", "size": "1Gi"}, {"name": "more", "path": "/a", "size": "1Gi"}],
        f"{API}.storage[1].path",
        ("mounted twice",),
    ),
    (
        "components.api.storage",
        [{"name": "data", "path": "/a", "size": "1Gi"}, {"name": "data", "path": "/b", "size": "1Gi"}],
        f"{API}.storage[1].name",
        ("used twice",),
    ),
    (
        "components.api.storage",
        [{"name": "data", "path": "/a"}],
        f"{API}.storage[0].size",
        ("required", "1Gi"),
    ),
    (
        "components.api.storage",
        [{"name": "data", "path": "/a", "size": "-1Gi"}],
        f"{API}.storage[0].size",
        ("more than 0",),
    ),
    (
        "components.api.configFiles",
        [{"path": "app.yaml", "content": ""}],
        f"{API}.config_files[0].path",
        ("absolute",),
    ),
    (
        "components.api.configFiles",
        [{"path": "/a", "content": ""}, {"path": "/a", "content": ""}],
        f"{API}.config_files[1].path",
        ("two config files",),
    ),
    (
        "components.api.configFiles",
        [{"path": "/etc/db", "content": "pw=${dependencies.db.password}"}],
        f"{API}.config_files[0].content",
        ("secret", "env var"),
    ),
    ("dependencies.DB", {"type": "postgres"}, f"{DEPS}[DB]", ("dependency name", "lowercase")),
    (
        "dependencies.db.type",
        "mongodb",
        f"{DEPS}[db].type",
        (
            "unknown type 'mongodb'",
            "application, bucket, dns, ingress, logging, metrics, mysql, postgres, redis, secret",
        ),
    ),
    ("dependencies.db.type", "", f"{DEPS}[db].type", ("required", "postgres")),
    ("dependencies.db.class", "Large", f"{DEPS}[db].class", ("lowercase", "'default'")),
    (
        "dependencies.db.params",
        {"size": "big"},
        f"{DEPS}[db].params.size",
        ("unknown parameter", "database, version"),
    ),
    ("dependencies.db.params", {"version": "sixteen"}, f"{DEPS}[db].params.version", ('"16"',)),
    (
        "dependencies.web.params.component",
        "frontend",
        f"{DEPS}[web].params.component",
        ("not a component", "api, worker"),
    ),
    ("dependencies.web.params.port", "https", f"{DEPS}[web].params.port", ("no port 'https'", "http (8080)")),
    ("dependencies.web.params.port", DELETE, f"{DEPS}[web].params.port", ("required for type ingress",)),
    ("dependencies.web.params.host", "Ledger_Example.com", f"{DEPS}[web].params.host", ("DNS name",)),
    ("dependencies.web.params.tls", "yes", f"{DEPS}[web].params.tls", ("true or false",)),
    ("dependencies.web.params.path", "api", f"{DEPS}[web].params.path", ("start with '/'",)),
    (
        "dependencies.web.params",
        {"component": "api", "port": "http", "dns": "db"},
        f"{DEPS}[web].params.dns",
        ("not a dns dependency",),
    ),
    (
        "dependencies.rates.params.application",
        DELETE,
        f"{DEPS}[rates].params.application",
        ("required for type application",),
    ),
    ("dependencies.rates.params.port", 0, f"{DEPS}[rates].params.port", ("1-65535",)),
    ("dependencies.keys", {"type": "secret"}, f"{DEPS}[keys].params.keys", ("required for type secret",)),
    (
        "dependencies.keys",
        {"type": "secret", "params": {"keys": []}},
        f"{DEPS}[keys].params.keys",
        ("non-empty list",),
    ),
    (
        "dependencies.keys",
        {"type": "secret", "params": {"keys": ["a", "a"]}},
        f"{DEPS}[keys].params.keys[1]",
        ("listed twice",),
    ),
    (
        "dependencies.keys",
        {"type": "secret", "params": {"keys": ["a.b"]}},
        f"{DEPS}[keys].params.keys[0]",
        ("not a key name",),
    ),
    (
        "dependencies.keys",
        {"type": "secret", "params": {"keys": ["a"], "name": "ledger prod"}},
        f"{DEPS}[keys].params.name",
        ("not a secret name", "ledger/prod/stripe"),
    ),
    (
        "dependencies.logs",
        {"type": "logging", "params": {"level": "debug"}},
        f"{DEPS}[logs].params.level",
        ("allowed: none",),
    ),
    (
        "placement.location",
        "Frankfurt",
        "application.spec.placement.location",
        ("Continent:City", "Europe:Frankfurt"),
    ),
    (
        "placement.location",
        "Europe:Berlin",
        "application.spec.placement.location",
        ("unknown location", "Asia:Tokyo"),
    ),
    (
        "placement.clusterProfile",
        "Standard",
        "application.spec.placement.cluster_profile",
        ("ClusterProfile",),
    ),
    (
        "placement.clusterLabels",
        {"tier": "gold!"},
        "application.spec.placement.cluster_labels[tier]",
        ("value 'gold!'",),
    ),
    (
        "placement.clusterLabels",
        {"-tier": "gold"},
        "application.spec.placement.cluster_labels[-tier]",
        ("key '-tier'",),
    ),
    ("placement.cluster", "prod-use1", "application.spec.placement.cluster", ("clusters/ID",)),
    ("description", "x" * 2001, "application.spec.description", ("2000",)),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "words"), BAD_SPECS, ids=[f"{b[0]}={b[1]!r}"[:60] for b in BAD_SPECS]
)
def test_each_bad_input_is_reported_at_its_field_with_what_is_allowed(
    path: str, value: Any, field: str, words: tuple[str, ...]
) -> None:
    violations = validate_application(ledger_with(path, value), application_id="ledger")

    assert [v.field for v in violations] == [field], violations
    for word in words:
        assert word in violations[0].description


def test_catalogue_is_large_enough() -> None:
    assert len(BAD_SPECS) >= 40


def test_the_design_example_validates_cleanly() -> None:
    assert validate_application(application(), application_id="ledger") == []
    check_application(application())  # does not raise


def test_an_application_needs_a_component() -> None:
    violations = validate_application(application({"components": {}}))

    assert [v.field for v in violations] == ["application.spec.components"]
    assert "at least one component" in violations[0].description


def test_every_violation_is_collected_not_just_the_first() -> None:
    spec = {
        "components": {"API": {"image": "", "ports": [{"name": "http", "port": 0}]}},
        "dependencies": {"db": {"type": "nosql"}},
        "placement": {"location": "Mars:Base"},
    }

    violations = validate_application(application(spec), application_id="Ledger")

    assert sorted(v.field for v in violations) == [
        "application.spec.components[API]",
        "application.spec.components[API].image",
        "application.spec.components[API].ports[0].port",
        "application.spec.dependencies[db].type",
        "application.spec.placement.location",
        "application_id",
    ]


def test_check_application_raises_invalid_argument_with_every_violation() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_application(ledger_with("components.api.replicas", -3))

    assert [v.field for v in raised.value.violations] == [f"{API}.replicas"]
    assert f"{API}.replicas" in raised.value.message


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ({"team": "payments team"}, "application.labels[team]"),
        ({"example.com/": "x"}, "application.labels[example.com/]"),
        ({"Bad_Prefix.com/team": "x"}, "application.labels[Bad_Prefix.com/team]"),
        ({"a" * 64: "x"}, f"application.labels[{'a' * 64}]"),
        ({"": "x"}, 'application.labels[""]'),
    ],
)
def test_resource_labels_use_kubernetes_syntax(labels: dict[str, str], field: str) -> None:
    app = application()
    app.labels.clear()
    app.labels.update(labels)

    assert [v.field for v in validate_application(app)] == [field]


def test_annotation_values_are_free_text_but_keys_are_checked() -> None:
    app = application()
    app.annotations["example.com/note"] = "anything at all: ${} spaces!"
    app.annotations["bad key"] = "x"

    assert [v.field for v in validate_application(app)] == ["application.annotations[bad key]"]


@pytest.mark.parametrize(
    "good",
    [
        ("components.api.image", "nginx"),
        ("components.api.image", "localhost:5000/ledger/api@sha256:" + "a" * 64),
        ("components.api.image", "ghcr.io/acme/api:1.0.0@sha256:" + "0" * 64),
        ("components.api.replicas", 0),
        (
            "components.worker.ports",
            [
                {"name": "dns", "port": 53, "protocol": "TCP"},
                {"name": "dns-udp", "port": 53, "protocol": "UDP"},
            ],
        ),
        ("components.api.env.ESCAPED", "literal $${HOME} and $HOME and $(VAR)"),
        ("components.api.env.MIXED", "postgres://${dependencies.db.username}:${dependencies.db.password}@x"),
        (
            "components.api.configFiles",
            [{"path": "/etc/app.conf", "content": "host=${dependencies.db.host}"}],
        ),
        ("dependencies.keys", {"type": "secret", "params": {"keys": ["api-key", "TOKEN"]}}),
        ("dependencies.keys", {"type": "secret", "params": {"keys": ["TOKEN"], "name": "ledger/prod/stripe_1"}}),
        ("dependencies.web.params.host", "*.ledger.example.com"),
        ("dependencies.rates.params.port", 9090),
        ("placement.cluster", "clusters/prod-use1"),
    ],
)
def test_good_variants_validate_cleanly(good: tuple[str, Any]) -> None:
    assert validate_application(ledger_with(*good)) == []


def test_secret_keys_become_referencable_outputs() -> None:
    app = ledger_with("dependencies.keys", {"type": "secret", "params": {"keys": ["api-key"]}})
    app.spec.components["api"].env["API_KEY"] = "${dependencies.keys.api-key}"
    app.spec.components["api"].env["OTHER"] = "${dependencies.keys.other}"

    violations = validate_application(app)

    assert [v.field for v in violations] == [f"{API}.env[OTHER]"]
    assert "available: api-key" in violations[0].description


def test_an_ingress_takes_its_host_from_a_dns_dependency_or_a_host_not_both() -> None:
    app = ledger_with("dependencies.name", {"type": "dns"})
    app.spec.dependencies["web"].params.update({"dns": "name"})

    violations = validate_application(app)

    assert [v.field for v in violations] == [f"{DEPS}[web].params.dns"]
    assert "either host or dns" in violations[0].description
    del app.spec.dependencies["web"].params["host"]
    assert validate_application(app) == []
