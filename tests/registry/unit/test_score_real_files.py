"""Score files as teams write them: each fixture is modelled on a public Score file (cited), cut
down to what it exercises, and must convert into an Application the registry accepts."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from google.protobuf import json_format

from threeport_registry.domain.application import validate_application
from threeport_registry.domain.score import convert_score_yaml
from threeport_runtime.errors import InvalidArgument

# What an Addon catalog with messaging and database addons provides (type -> output names), as
# the registry learns it from the addon-manager.
CATALOG = {
    "amqp": frozenset({"host", "port", "vhost", "username", "password"}),
    "mongodb": frozenset({"host", "port", "username", "password", "connection"}),
}


def convert(text: str, provided: dict[str, frozenset[str]] | None = None) -> tuple[dict[str, Any], list[str]]:
    result = convert_score_yaml(textwrap.dedent(text), parent="projects/acme", provided=provided or {})
    assert validate_application(result.application, provided=provided or {}) == []
    return json_format.MessageToDict(result.application.spec), result.warnings


def test_service_resources_name_other_workloads() -> None:
    # Modelled on score-spec/examples samples/onlineboutique/checkout/score.yaml.
    spec, warnings = convert("""
        apiVersion: score.dev/v1b1
        metadata: {name: checkout, annotations: {tags: "golang,backend,grpc"}}
        containers:
          checkout:
            image: us-central1-docker.pkg.dev/google-samples/microservices-demo/checkoutservice:v0.10.5
            variables:
              CART_SERVICE_ADDR: "${resources.cart.name}:7070"
              EMAIL_SERVICE_ADDR: "${resources.mailer.host}:5000"
        resources:
          cart: {type: service}
          mailer: {type: service, id: shared.email}
        service:
          ports: {grpc: {port: 5050, targetPort: 5050}}
    """)

    assert spec["components"]["checkout"]["env"] == {
        "CART_SERVICE_ADDR": "${dependencies.cart.host}:7070",
        "EMAIL_SERVICE_ADDR": "${dependencies.mailer.host}:5000",
    }
    assert spec["dependencies"] == {
        "cart": {"type": "application", "params": {"application": "cart"}},
        "mailer": {"type": "application", "params": {"application": "email"}},
    }
    assert warnings == []


def test_endpoint_and_service_port_carry_the_port() -> None:
    # Modelled on score-spec/examples samples/traderx/trade-service/score.yaml (endpoint with
    # mock params) and score-spec/score-compose examples/08-service-port-resource/scoreB.yaml.
    spec, warnings = convert("""
        apiVersion: score.dev/v1b1
        metadata: {name: trade-service}
        containers:
          trade-service:
            image: ghcr.io/finos/traderx/trade-service:latest
            variables:
              PEOPLE_SERVICE_HOST: "${resources.people-service.name}"
              PEOPLE_URL: "${resources.people-service.url}"
              DEPENDENCY_URL: "http://${resources.dependency.hostname}:${resources.dependency.port}"
        resources:
          people-service:
            type: endpoint
            params: {port: 8181, openapi_file: ../api-mocks/people.json, openapi_title: People}
          dependency:
            type: service-port
            params: {workload: workload-a, port: web}
    """)

    assert spec["components"]["trade-service"]["env"] == {
        "PEOPLE_SERVICE_HOST": "${dependencies.people-service.host}",
        "PEOPLE_URL": "${dependencies.people-service.url}",
        "DEPENDENCY_URL": "http://${dependencies.dependency.host}:${dependencies.dependency.port}",
    }
    assert spec["dependencies"] == {
        "people-service": {"type": "application", "params": {"application": "people-service", "port": "8181"}},
        "dependency": {"type": "application", "params": {"application": "workload-a", "port": "web"}},
    }
    assert warnings == [
        "resources.people-service.params.openapi_file: ignored; the workload 'people-service' is deployed "
        "by Threeport, never mocked",
        "resources.people-service.params.openapi_title: ignored; the workload 'people-service' is deployed "
        "by Threeport, never mocked",
    ]


def test_every_output_of_the_reference_provisioners() -> None:
    # Modelled on score-spec/examples resources/redis/score.yaml, resources/postgres/score.yaml
    # and score-compose's default provisioners (s3's bucket, region, endpoint).
    spec, _ = convert("""
        apiVersion: score.dev/v1b1
        metadata: {name: outputs}
        containers:
          main:
            image: busybox
            variables:
              REDIS: "redis://${resources.cache.username}:${resources.cache.password}@${resources.cache.host}:${resources.cache.port}"
              PG: "${resources.db.username}@${resources.db.host}:${resources.db.port}/${resources.db.name}"
              PG_DATABASE: "${resources.db.database}"
              S3: "${resources.files.bucket} ${resources.files.region} ${resources.files.endpoint}"
        resources:
          cache: {type: redis}
          db: {type: postgres}
          files: {type: s3}
    """)

    assert spec["components"]["main"]["env"] == {
        "REDIS": "redis://default:${dependencies.cache.password}@${dependencies.cache.host}:"
        "${dependencies.cache.port}",
        "PG": "${dependencies.db.username}@${dependencies.db.host}:${dependencies.db.port}/"
        "${dependencies.db.database}",
        "PG_DATABASE": "${dependencies.db.database}",
        "S3": "${dependencies.files.name} ${dependencies.files.region} ${dependencies.files.endpoint}",
    }


MAKELINE = """
    # Modelled on score-spec/examples samples/aks-store-demo/makeline/score.yaml.
    apiVersion: score.dev/v1b1
    metadata: {name: makeline-service}
    containers:
      makeline-service:
        image: ghcr.io/azure-samples/aks-store-demo/makeline-service:2.1.0
        variables:
          ORDER_QUEUE_URI: "amqp://${resources.orders-queue.host}:${resources.orders-queue.port}"
          ORDER_QUEUE_VHOST: "${resources.orders-queue.vhost}"
          ORDER_DB_URI: "${resources.orders-database.connection}"
    resources:
      orders-queue: {type: amqp, id: orders-queue}
      orders-database: {type: mongodb, params: {version: "7"}}
"""


def test_types_the_addon_catalog_provides_are_dependencies_of_that_type() -> None:
    spec, warnings = convert(MAKELINE, CATALOG)

    assert spec["dependencies"] == {
        "orders-queue": {"type": "amqp"},
        "orders-database": {"type": "mongodb", "params": {"version": "7"}},
    }
    assert spec["components"]["makeline-service"]["env"]["ORDER_DB_URI"] == "${dependencies.orders-database.connection}"
    assert warnings == ["resources.orders-queue.id: ignored; resources are never shared between applications"]


def test_types_without_a_provider_are_refused_once_each_with_the_known_types() -> None:
    with pytest.raises(InvalidArgument) as raised:
        convert_score_yaml(textwrap.dedent(MAKELINE), parent="projects/acme")

    assert [v.field for v in raised.value.violations] == [
        "resources.orders-queue.type", "resources.orders-database.type"]
    assert "dns, endpoint, mysql, postgres, redis, route, s3, service, service-port, volume" in (
        raised.value.violations[0].description)


def test_an_addon_output_that_does_not_exist_lists_the_addons_outputs() -> None:
    with pytest.raises(InvalidArgument) as raised:
        convert_score_yaml(textwrap.dedent(MAKELINE).replace(".vhost}", ".virtualhost}"), provided=CATALOG)

    assert [v.field for v in raised.value.violations] == ["containers.makeline-service.variables.ORDER_QUEUE_VHOST"]
    assert "available: host, password, port, username, vhost" in raised.value.violations[0].description


def test_files_volumes_and_routes_as_the_specification_writes_them() -> None:
    # Modelled on score-spec/spec samples/score-full.yaml and score-deprecated-files-and-volumes.yaml
    # (map-form files with binaryContent, a volume by name) and score-compose
    # examples/09-dns-and-route/score.yaml (a route to a service port by name).
    spec, warnings = convert("""
        apiVersion: score.dev/v1b1
        metadata: {name: hello-world}
        service:
          ports: {web: {port: 8080, targetPort: 80}}
        containers:
          web:
            image: nginx
            files:
              /usr/share/nginx/html/index.html: {content: "hello ${metadata.name}"}
              /usr/share/nginx/html/favicon.ico: {binaryContent: AAEC/w==, mode: "0644"}
            volumes:
              /var/cache/nginx: {source: nginx-cache, path: /proxy}
        resources:
          dns: {type: dns}
          route: {type: route, params: {host: "${resources.dns.host}", path: /, port: web}}
    """)

    web = spec["components"]["web"]
    assert web["configFiles"] == [
        {"path": "/usr/share/nginx/html/index.html", "content": "hello hello-world"},
        {"path": "/usr/share/nginx/html/favicon.ico", "binaryContent": "AAEC/w==", "mode": 0o644},
    ]
    assert web["storage"] == [{"name": "nginx-cache", "path": "/var/cache/nginx", "size": "1Gi", "subPath": "proxy"}]
    assert spec["dependencies"]["route"]["params"] == {"component": "web", "port": "web", "dns": "dns", "path": "/"}
    assert warnings == [
        "containers.web.volumes[/var/cache/nginx]: volume 'nginx-cache' has no params.size; using 1Gi",
        "service.ports.web: exposed as port 80 (the container port), not 8080",
    ]
