"""What Score files need from delivery: binary config files mounted byte for byte, file modes,
and another application's port named by its number (Score's `endpoint`)."""

from __future__ import annotations

import base64

from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.domain.rendering import RenderInput, component_outputs, render
from threeport_workload_delivery.pipeline.claims import _port_name

ICON = b"\x00\x01\x02\xff"


def rendered(files: list[dict[str, object]]) -> list[dict[str, object]]:
    spec = json_format.ParseDict({"components": {"web": {"image": "nginx:1", "configFiles": files}}},
                                 application_pb2.ApplicationSpec())
    return render(RenderInput(project="acme", deployment="projects/acme/deployments/site-dev", application="site",
                              environment="dev", namespace="acme-site-dev", spec=spec, images={}, dependencies={}))


def test_binary_files_go_to_binary_data_and_text_files_to_data() -> None:
    found = rendered([{"path": "/srv/index.html", "content": "hi"},
                      {"path": "/srv/favicon.ico", "binaryContent": base64.b64encode(ICON).decode()}])

    (files,) = [o for o in found if o["kind"] == "ConfigMap" and str(o["metadata"]["name"]).endswith("-files")]  # type: ignore[index]
    assert files["data"] == {"file-0": "hi"}
    assert files["binaryData"] == {"file-1": base64.b64encode(ICON).decode()}
    (deployment,) = [o for o in found if o["kind"] == "Deployment"]
    mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]  # type: ignore[index]
    assert {"name": "config-files", "mountPath": "/srv/favicon.ico", "subPath": "file-1", "readOnly": True} in mounts


def test_file_modes_are_set_per_file_and_the_others_keep_the_default() -> None:
    found = rendered([{"path": "/srv/run.sh", "content": "#!/bin/sh", "mode": 0o755},
                      {"path": "/srv/a", "content": "a"}])

    (deployment,) = [o for o in found if o["kind"] == "Deployment"]
    (volume,) = deployment["spec"]["template"]["spec"]["volumes"]  # type: ignore[index]
    assert volume["configMap"]["items"] == [
        {"key": "file-0", "path": "file-0", "mode": 0o755}, {"key": "file-1", "path": "file-1"}]


def test_a_volume_sub_path_is_mounted() -> None:
    spec = json_format.ParseDict({"components": {"db": {"image": "postgres:16", "storage": [
        {"name": "data", "path": "/var/lib/postgresql", "size": "1Gi", "subPath": "pgdata"}]}}},
        application_pb2.ApplicationSpec())
    found = render(RenderInput(project="acme", deployment="projects/acme/deployments/db-dev", application="db",
                               environment="dev", namespace="acme-db-dev", spec=spec, images={}, dependencies={}))

    (workload,) = [o for o in found if o["kind"] == "StatefulSet"]
    mounts = workload["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "data", "mountPath": "/var/lib/postgresql", "subPath": "pgdata"}]


def test_changing_a_binary_file_rolls_the_pods() -> None:
    def config_hash(content: bytes) -> str:
        found = rendered([{"path": "/srv/a.bin", "binaryContent": base64.b64encode(content).decode()}])
        (deployment,) = [o for o in found if o["kind"] == "Deployment"]
        return str(deployment["spec"]["template"]["metadata"]["annotations"][names.CONFIG_HASH_ANNOTATION])  # type: ignore[index]

    assert config_hash(ICON) != config_hash(ICON + b"!")


def test_a_port_given_by_number_is_the_published_port_with_that_number() -> None:
    spec = json_format.ParseDict({"components": {"api": {"image": "api:1", "ports": [
        {"name": "http", "port": 8080}, {"name": "admin", "port": 8181}]}}}, application_pb2.ApplicationSpec())
    outputs = component_outputs(spec, "people", "acme-people-dev")

    assert _port_name(outputs, "api", "8181") == "admin"
    assert _port_name(outputs, "api", "admin") == "admin"
    assert _port_name(outputs, "api", "9999") == "9999"  # none: stays pending, naming the port
