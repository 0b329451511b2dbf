"""What the built-in addons publish and configure: the ingress host (asked for, else the
environment's default) and its URL; the logging agent's pod label, and its config keeping only
pods with that label; external-dns reading issued AWS credentials."""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes_validate
from google.protobuf import json_format

from threeport.addons.v1alpha1 import addon_pb2
from threeport_addon_manager.catalog.seeding import builtin_addons
from threeport_addon_manager.domain.catalog import version_of
from threeport_addon_manager.installers.charts import ChartCache
from threeport_addon_manager.installers.render import render, render_outputs


def builtin(name: str) -> addon_pb2.Addon:
    return next(a for a in builtin_addons() if a.name == f"addons/{name}")


def claim_outputs(params: dict[str, Any], default_host: str) -> dict[str, str]:
    values = {"outputs": {}, "params": params, "owner": "projects/acme/deployments/shop-dev",
              "project": "projects/acme", "environment": "projects/acme/environments/dev",
              "defaultHost": default_host}
    rendered = asyncio.run(render_outputs(dict(builtin("ingress-nginx").spec.claim_outputs), values,
                                          release="r", namespace="ingress-nginx", what="test"))
    return {name: value for name, value in rendered.items() if value}


def test_the_ingress_host_is_the_one_asked_for_else_the_environments_default() -> None:
    assert claim_outputs({"host": "shop.example.com", "tls": True}, "shop-dev.dev.example.com") == {
        "host": "shop.example.com", "url": "https://shop.example.com"}
    assert claim_outputs({"tls": True, "path": "/app"}, "shop-dev.dev.example.com") == {
        "host": "shop-dev.dev.example.com", "url": "https://shop-dev.dev.example.com/app"}
    assert claim_outputs({}, "shop-dev.dev.example.com") == {
        "host": "shop-dev.dev.example.com", "url": "http://shop-dev.dev.example.com"}
    assert claim_outputs({}, "") == {}  # no host asked for, no domain: none published


def test_the_logging_agent_publishes_its_pod_label_and_keeps_only_those_pods() -> None:
    addon = builtin("fluent-bit")
    values = json_format.MessageToDict(addon.spec.default_values)
    values["podLabel"] = {"key": "example.com/logs", "value": "on.yes"}
    version = version_of(addon)
    assert version is not None
    rendered = asyncio.run(render(addon, version, values, release="r", charts=ChartCache()))
    assert rendered.outputs["podLabel"] == "example.com/logs=on.yes"
    [config] = [o for o in rendered.objects if o["kind"] == "ConfigMap"]
    text = config["data"]["fluent-bit.conf"]
    assert "Name grep" in text
    assert "Regex $kubernetes['labels']['example.com/logs'] ^on\\.yes$" in text
    defaults = asyncio.run(render(addon, version, json_format.MessageToDict(addon.spec.default_values),
                                  release="r", charts=ChartCache()))
    assert defaults.outputs["podLabel"] == "threeport.io/logs=collect"


def test_external_dns_reads_issued_credentials_and_restarts_when_they_change() -> None:
    addon = builtin("external-dns")
    values = json_format.MessageToDict(addon.spec.default_values)
    values["awsAccess"] = {"secret": "threeport-aws-credentials", "region": "eu-central-1",
                           "endpointUrl": "http://127.0.0.1:5000", "version": "abc123"}
    version = version_of(addon)
    assert version is not None
    rendered = asyncio.run(render(addon, version, values, release="r", charts=ChartCache()))
    [deployment] = [o for o in rendered.objects if o["kind"] == "Deployment"]
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"] == {"threeport.io/credentials-version": "abc123"}
    env = {e["name"]: e for e in template["spec"]["containers"][0]["env"]}
    assert env["AWS_DEFAULT_REGION"]["value"] == "eu-central-1"  # the account's region: awsRegion is empty
    assert env["AWS_SESSION_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "threeport-aws-credentials", "key": "AWS_SESSION_TOKEN"}}
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://127.0.0.1:5000"
    kubernetes_validate.validate(deployment, "1.32", strict=True)
    # Without issued credentials (IRSA or the node's identity): no keys, the default region.
    plain = asyncio.run(render(addon, version, json_format.MessageToDict(addon.spec.default_values),
                               release="r", charts=ChartCache()))
    [deployment] = [o for o in plain.objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"}]
