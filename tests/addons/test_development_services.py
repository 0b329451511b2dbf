"""The built-in development services: every resource type Score files use beyond the platform's
own has a provider, with the outputs score-compose's default provisioners give it."""

from __future__ import annotations

import asyncio

from google.protobuf import json_format

from threeport_addon_manager.catalog.seeding import builtin_addons
from threeport_addon_manager.domain.catalog import version_of
from threeport_addon_manager.installers.charts import ChartCache
from threeport_addon_manager.installers.render import render, render_outputs

# score-spec/score-compose internal/command/default.provisioners.yaml, per type.
SCORE_COMPOSE_OUTPUTS = {
    "amqp": {"host", "port", "vhost", "username", "password"},
    "mongodb": {"host", "port", "username", "password", "connection"},
    "kafka-topic": {"host", "port", "name", "num_partitions"},
    "mssql": {"server", "port", "connection", "database", "username", "password"},
    "elasticsearch": {"host", "port", "username", "password"},
}


def test_each_score_type_has_a_builtin_provider_with_score_composes_outputs() -> None:
    provided = {
        type_name: set(addon.spec.outputs) | set(addon.spec.claim_outputs)
        for addon in builtin_addons()
        for type_name in addon.spec.provides
    }

    assert {t: provided.get(t) for t in SCORE_COMPOSE_OUTPUTS} == SCORE_COMPOSE_OUTPUTS


def test_outputs_render_from_the_values_and_each_kafka_claim_gets_its_own_topic() -> None:
    addons = {a.name: a for a in builtin_addons()}
    mongodb = addons["addons/mongodb"]
    version = version_of(mongodb)
    assert version is not None
    rendered = asyncio.run(render(mongodb, version, json_format.MessageToDict(mongodb.spec.default_values),
                                  release="mongodb-c1", charts=ChartCache()))
    assert rendered.outputs["connection"] == (
        "mongodb://threeport:threeport-development@mongodb.dev-services.svc:27017/")
    assert {o["kind"] for o in rendered.objects} == {"Secret", "Service", "Deployment"}

    kafka = addons["addons/kafka-development"]

    def topic(params: dict[str, str]) -> str:
        values = {"outputs": {}, "params": params, "owner": "projects/acme/deployments/orders-dev",
                  "project": "acme", "environment": "dev"}
        return asyncio.run(render_outputs(dict(kafka.spec.claim_outputs), values, release="k",
                                          namespace="dev-services", what="kafka"))["name"]

    assert topic({}) == "orders-dev"
    assert topic({"name": "payments"}) == "payments"
