"""Score (score.dev/v1b1) files converted into Applications."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from google.protobuf import json_format

from threeport_registry.domain.application import validate_application
from threeport_registry.domain.score import convert_score, convert_score_yaml
from threeport_runtime.errors import InvalidArgument

SHOP = textwrap.dedent("""
    apiVersion: score.dev/v1b1
    metadata:
      name: shop
      annotations: {owner: team-a}
    containers:
      web:
        image: ghcr.io/acme/shop:1.2
        command: ["/shop"]
        args: ["--name", "${metadata.name}"]
        variables:
          DATABASE_URL: "postgres://${resources.db.username}:${resources.db.password}@${resources.db.host}/${resources.db.name}"
          CACHE: "${resources.cache.host}:${resources.cache.port}"
          LITERAL: "$${HOME} costs $$5"
        files:
          - target: /etc/shop/app.conf
            content: "bucket=${resources.assets.bucket}"
          - target: /etc/shop/raw.sh
            content: "echo ${HOME}"
            noExpand: true
        volumes:
          - source: ${resources.data}
            target: /var/lib/shop
        resources:
          requests: {cpu: 250m, memory: 128Mi}
          limits: {memory: 256Mi}
        livenessProbe:
          httpGet: {port: 8080, path: /alive}
        readinessProbe:
          exec: {command: [/bin/ready]}
    service:
      ports:
        www: {port: 8080}
    resources:
      db: {type: postgres, class: small}
      cache: {type: redis}
      assets: {type: s3}
      data: {type: volume, params: {size: 10Gi}}
      dns: {type: dns}
      route: {type: route, params: {host: "${resources.dns.host}", path: /, port: 8080}}
""")

SHOP_SPEC: dict[str, Any] = {
    "components": {
        "web": {
            "image": "ghcr.io/acme/shop:1.2",
            "command": ["/shop"],
            "args": ["--name", "shop"],
            "ports": [{"name": "www", "port": 8080, "protocol": "TCP"}],
            "env": {
                "DATABASE_URL": "postgres://${dependencies.db.username}:${dependencies.db.password}@"
                "${dependencies.db.host}/${dependencies.db.database}",
                "CACHE": "${dependencies.cache.host}:${dependencies.cache.port}",
                "LITERAL": "$${HOME} costs $5",
            },
            "resources": {"cpu": "250m", "memory": "128Mi", "limits": {"memory": "256Mi"}},
            "probes": {
                "liveness": {"http": {"path": "/alive", "port": "www"}},
                "readiness": {"exec": {"command": ["/bin/ready"]}},
            },
            "storage": [{"name": "data", "path": "/var/lib/shop", "size": "10Gi"}],
            "configFiles": [
                {"path": "/etc/shop/app.conf", "content": "bucket=${dependencies.assets.name}"},
                {"path": "/etc/shop/raw.sh", "content": "echo $${HOME}"},
            ],
        }
    },
    "dependencies": {
        "db": {"type": "postgres", "class": "small"},
        "cache": {"type": "redis"},
        "assets": {"type": "bucket"},
        "dns": {"type": "dns"},
        "route": {
            "type": "ingress",
            "params": {"component": "web", "port": "www", "dns": "dns", "path": "/"},
        },
    },
}


def test_a_full_score_file_converts_to_the_expected_application() -> None:
    result = convert_score_yaml(SHOP, parent="projects/acme")

    assert result.application_id == "shop"
    assert result.application.name == "projects/acme/applications/shop"
    assert dict(result.application.annotations) == {"owner": "team-a"}
    assert json_format.MessageToDict(result.application.spec) == SHOP_SPEC
    assert result.warnings == []
    assert validate_application(result.application, application_id=result.application_id) == []


def test_the_score_hello_world_converts() -> None:
    result = convert_score_yaml(
        textwrap.dedent("""
        apiVersion: score.dev/v1b1
        metadata: {name: hello-world}
        containers:
          hello:
            image: busybox
            command: ["/bin/sh"]
            args: ["-c", "while true; do echo Hello $${FRIEND}!; sleep 5; done"]
            variables: {FRIEND: World}
    """)
    )

    component = result.application.spec.components["hello"]
    assert list(component.args) == ["-c", "while true; do echo Hello $${FRIEND}!; sleep 5; done"]
    assert dict(component.env) == {"FRIEND": "World"}
    assert validate_application(result.application) == []


def test_adjustments_are_reported_as_warnings() -> None:
    result = convert_score(
        {
            "apiVersion": "score.dev/v1b1",
            "metadata": {"name": "api", "team": "a"},
            "containers": {
                "api": {
                    "image": "api:1",
                    "files": {"/etc/x": {"content": "x", "mode": "0600"}},
                    "volumes": [{"source": "${resources.tmp}", "target": "/tmp/x", "readOnly": True}],
                },
                "sidecar": {"image": "proxy:1"},
            },
            "service": {"ports": {"web": {"port": 80, "targetPort": 8080, "protocol": "tcp"}}},
            "resources": {
                "db": {"type": "postgres", "id": "shared-db", "params": {"instance": "big"}},
                "tmp": {"type": "volume"},
            },
        }
    )

    assert result.warnings == [
        "metadata.team: ignored (only name and annotations are used)",
        "containers.api.volumes[0]: volume 'tmp' has no params.size; using 1Gi",
        "containers.api.volumes[0].readOnly: storage is always mounted read-write",
        "service.ports: Threeport runs each container as its own component; the ports are given to the first "
        "container, 'api'",
        "service.ports.web: exposed as port 8080 (the container port), not 80",
        "resources.db.id: ignored; resources are never shared between applications",
        "resources.db.params.instance: ignored; postgres takes version, database",
    ]
    ports = result.application.spec.components["api"].ports
    assert [(p.name, p.port, p.protocol) for p in ports] == [("web", 8080, "TCP")]
    assert result.application.spec.components["api"].config_files[0].path == "/etc/x"
    assert result.application.spec.components["api"].config_files[0].mode == 0o600


def _score(**containers_and_more: Any) -> dict[str, Any]:
    return {
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": "app"},
        "containers": {"web": {"image": "web:1"}},
        **containers_and_more,
    }


def _web(**fields: Any) -> dict[str, Any]:
    return _score(containers={"web": {"image": "web:1", **fields}})


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ({**_score(), "apiVersion": "score.dev/v1a1"}, "apiVersion", ("score.dev/v1b1",)),
        ({**_score(), "extensions": {}}, "extensions", ("unknown field",)),
        ({**_score(), "metadata": {"name": "My App"}}, "metadata.name", ("lowercase",)),
        ({**_score(), "containers": {}}, "containers", ("non-empty",)),
        (_web(image="."), "containers.web.image", ("build from this directory",)),
        (_score(containers={"web": {"command": ["x"]}}), "containers.web.image", ("required",)),
        (
            _web(volumes=[{"source": "/host/path", "target": "/data"}]),
            "containers.web.volumes[0].source",
            ("volume` resource", "volume name"),
        ),
        (
            _web(files=[{"target": "/etc/x", "source": "./x.conf"}]),
            "containers.web.files[0].source",
            ("read by tptctl", "binaryContent"),
        ),
        (
            _web(files=[{"target": "/etc/x", "content": "a", "binaryContent": "YQ=="}]),
            "containers.web.files[0]",
            ("exactly one of content, binaryContent and source",),
        ),
        (
            _web(files=[{"target": "/etc/x", "content": "a", "mode": 644}]),
            "containers.web.files[0].mode",
            ('"0644"', "quoted"),
        ),
        (
            _web(files=[{"target": "/etc/x", "binaryContent": "not base64!"}]),
            "containers.web.files[0].binaryContent",
            ("not base64",),
        ),
        (
            _web(variables={"A": "${resources.nope.host}"}),
            "containers.web.variables.A",
            ("undeclared resource",),
        ),
        (
            _web(variables={"A": "${resources.db.uri}"}) | {"resources": {"db": {"type": "postgres"}}},
            "containers.web.variables.A",
            ("no output 'uri'", "database, host"),
        ),
        (_web(variables={"A": "${env.HOME}"}), "containers.web.variables.A", ("not supported", "$${")),
        (_web(variables={"A": "${metadata.name"}), "containers.web.variables.A", ("no closing",)),
        (
            _web(args=["${resources.db.host}"]) | {"resources": {"db": {"type": "postgres"}}},
            "containers.web.args[0]",
            ("not supported here",),
        ),
        (
            _web(livenessProbe={"httpGet": {"port": 8443, "scheme": "HTTPS"}}),
            "containers.web.livenessProbe.httpGet.scheme",
            ("only HTTP",),
        ),
        (
            _web(livenessProbe={"grpc": {"port": 9000}}),
            "containers.web.livenessProbe.grpc",
            ("httpGet, exec",),
        ),
        (_web(securityContext={}), "containers.web.securityContext", ("supported here",)),
        (
            _score(resources={"q": {"type": "amqp"}}),
            "resources.q.type",
            ("'amqp' has no provider", "postgres, redis, route, s3, service, service-port, volume",
             "Addon that provides it"),
        ),
        (
            _web(variables={"K": "${resources.b.aws_secret_key}"}) | {"resources": {"b": {"type": "s3"}}},
            "containers.web.variables.K",
            ("workload's identity",),
        ),
        (
            _score(resources={"other": {"type": "service", "id": "Not_An_Id"}}),
            "resources.other.id",
            ("not an application id",),
        ),
        (
            _score(resources={"other": {"type": "service-port", "params": {"port": "web"}}}),
            "resources.other.params.workload",
            ("required",),
        ),
        (
            _score(resources={"other": {"type": "endpoint", "params": {"port": [1]}}}),
            "resources.other.params.port",
            ("port name or number",),
        ),
        (
            _score(resources={"r": {"type": "route", "params": {"host": "a.example.com", "port": 81}}}),
            "resources.r.params.port",
            ("service ports, by number or name", "none"),
        ),
        (
            _score(
                resources={"r": {"type": "route", "params": {"host": "${metadata.name}", "port": 80}}},
                service={"ports": {"web": {"port": 80}}},
            ),
            "resources.r.params.host",
            ("dns resource",),
        ),
    ],
)
def test_unsupported_score_features_name_the_score_field(
    document: dict[str, Any], field: str, words: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        convert_score(document)

    assert [v.field for v in raised.value.violations] == [field]
    for word in words:
        assert word in raised.value.violations[0].description


def test_invalid_yaml_is_a_violation_of_score_yaml() -> None:
    with pytest.raises(InvalidArgument) as raised:
        convert_score_yaml("containers: [unclosed")

    assert [v.field for v in raised.value.violations] == ["score_yaml"]
