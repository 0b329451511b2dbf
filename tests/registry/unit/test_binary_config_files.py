"""Config files that are bytes (Score's `binaryContent`): one of content and binary_content, and
they count towards the component's 1 MiB of files; a file's mode is permission bits."""

from __future__ import annotations

import base64

from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_registry.domain.application import validate_application


def application(*files: dict[str, object]) -> application_pb2.Application:
    return json_format.ParseDict(
        {"spec": {"components": {"web": {"image": "nginx:1", "configFiles": list(files)}}}},
        application_pb2.Application(),
    )


def test_a_binary_file_is_accepted() -> None:
    assert validate_application(application({"path": "/srv/a.bin", "binaryContent": "AAEC"})) == []


def test_content_and_binary_content_together_are_refused() -> None:
    (violation,) = validate_application(application({"path": "/srv/a", "content": "x", "binaryContent": "AAEC"}))
    assert violation.field == "application.spec.components[web].config_files[0]"
    assert "either content or binary_content" in violation.description


def test_binary_files_count_towards_the_size_limit() -> None:
    big = base64.b64encode(b"\0" * (1024 * 1024 + 1)).decode()
    (violation,) = validate_application(application({"path": "/srv/big.bin", "binaryContent": big}))
    assert violation.field == "application.spec.components[web].config_files" and "1 MiB" in violation.description


def test_a_volume_sub_path_stays_inside_the_volume() -> None:
    spec = {"components": {"db": {"image": "postgres:16", "storage": [
        {"name": "data", "path": "/var/lib/a", "size": "1Gi", "subPath": "pg/data"},
        {"name": "logs", "path": "/var/log/a", "size": "1Gi", "subPath": "../escape"}]}}}
    found = validate_application(json_format.ParseDict({"spec": spec}, application_pb2.Application()))
    assert [v.field for v in found] == ["application.spec.components[db].storage[1].sub_path"]


def test_a_file_mode_must_be_permission_bits() -> None:
    found = validate_application(application({"path": "/srv/run.sh", "content": "x", "mode": 0o1777}))
    assert [v.field for v in found] == ["application.spec.components[web].config_files[0].mode"]
