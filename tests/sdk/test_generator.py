"""Generator rules that the live protos exercise only partly: naming and request building."""

from __future__ import annotations

import sys
from pathlib import Path

from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.sdk import Client
from threeport.sdk._requests import build_request

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "codegen"))
import sdkgen


def _service(package: str, name: str, internal: bool = False) -> sdkgen.ServiceModel:
    method = sdkgen.MethodModel(
        name="Get",
        python_name="get",
        path=f"/{package}.{name}/Get",
        request=sdkgen.TypeRef("x.Req", "x_pb2", "Req", False),
        response=sdkgen.TypeRef("x.Resp", "x_pb2", "Resp", False),
        server_streaming=False,
        policy=sdkgen.Policy(internal=internal),
        doc="",
        fields=(),
        has_request_id=False,
        pagination=None,
    )
    return sdkgen.ServiceModel(f"{package}.{name}", name, package, "", [method])


def test_shared_service_names_are_qualified_by_domain_and_unique_ones_are_not() -> None:
    services = [
        _service("threeport.registry.v1alpha1", "EventService"),
        _service("threeport.clusters.v1alpha1", "EventService"),
        _service("threeport.registry.v1alpha1", "ApplicationService"),
        _service("threeport.gateway.v1alpha1", "InternalService"),
        _service("threeport.clusters.v1alpha1", "ClusterClaimService", internal=True),
    ]

    sdkgen.assign_attributes(services)

    assert [s.public_attribute for s in services[:4]] == [
        "registry_event",
        "clusters_event",
        "application",
        "gateway_internal",
    ]
    assert services[4].internal_attribute == "cluster_claim" and services[4].public_attribute == ""


def test_names_and_keywords() -> None:
    assert sdkgen.snake_case("ListClusterInfras") == "list_cluster_infras"
    assert sdkgen.snake_case("GetHTTPRoute") == "get_http_route"
    assert sdkgen.parameter_name("class") == "class_"
    assert sdkgen.parameter_name("metadata") == "metadata_"


def test_every_domains_event_service_is_reachable() -> None:
    client = Client("127.0.0.1:1")
    try:
        assert hasattr(client, "registry_event")
        assert not hasattr(client, "event")
    finally:
        client.close()


def test_build_request_sets_maps_repeated_and_messages_on_a_copy() -> None:
    base = app_pb2.ApplicationSpec(description="keep", placement=app_pb2.Placement(location="old"))

    built = build_request(
        app_pb2.ApplicationSpec,
        base,
        {
            "components": {"api": app_pb2.Component(image="img", command=["run"])},
            "placement": app_pb2.Placement(location="Europe:Frankfurt"),
            "dependencies": None,
        },
    )

    assert built.description == "keep"
    assert built.components["api"].command == ["run"]
    assert built.placement.location == "Europe:Frankfurt"
    assert base.placement.location == "old" and not base.components
