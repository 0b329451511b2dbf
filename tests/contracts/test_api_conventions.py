"""Every contract follows the API conventions that generic code relies on (protos/README.md)."""

from __future__ import annotations

from google.protobuf import descriptor_pb2

from tests.support import REPO_ROOT
from threeport.common.v1alpha1 import annotations_pb2

STANDARD_FIELDS = {
    "name": 1, "uid": 2, "labels": 3, "annotations": 4, "create_time": 5, "update_time": 6,
    "delete_time": 7, "etag": 8, "generation": 9, "reconciling": 10, "conditions": 11, "state": 12,
}
DOMAINS = {"common", "gateway", "registry", "delivery", "clusters", "addons", "infra"}


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    files = descriptor_pb2.FileDescriptorSet()
    files.ParseFromString((REPO_ROOT / "gen/threeport/descriptors.binpb").read_bytes())
    return files


def threeport_files() -> list[descriptor_pb2.FileDescriptorProto]:
    return [f for f in descriptor_set().file if f.package.startswith("threeport.")]


def test_every_domain_has_contracts_in_its_own_package() -> None:
    packages = {f.package for f in threeport_files()}
    assert packages == {f"threeport.{domain}.v1alpha1" for domain in DOMAINS}
    for file in threeport_files():
        domain = file.package.split(".")[1]
        assert file.name.startswith(f"threeport/{domain}/v1alpha1/"), file.name


def test_every_rpc_declares_a_policy() -> None:
    missing = []
    for file in threeport_files():
        for service in file.service:
            for method in service.method:
                policy = method.options.Extensions[annotations_pb2.policy]
                if policy.role == annotations_pb2.ROLE_UNSPECIFIED:
                    missing.append(f"{file.package}.{service.name}/{method.name}")
    assert not missing, f"RPCs without a policy role: {missing}"


def test_internal_rpcs_are_for_services_only_and_service_rpcs_are_internal() -> None:
    for file in threeport_files():
        for service in file.service:
            for method in service.method:
                policy = method.options.Extensions[annotations_pb2.policy]
                where = f"{service.name}/{method.name}"
                assert policy.internal == (policy.role == annotations_pb2.ROLE_SERVICE), where


def test_reconciled_resources_carry_the_standard_fields_with_fixed_numbers() -> None:
    checked = 0
    for file in threeport_files():
        for message in file.message_type:
            descriptor = message.options.Extensions[annotations_pb2.resource]
            if not descriptor.type or "reconciling" not in {f.name for f in message.field}:
                continue
            numbers = {f.name: f.number for f in message.field}
            for name, number in STANDARD_FIELDS.items():
                assert numbers.get(name) == number, f"{message.name}.{name} must be field {number}"
            assert numbers.get("spec") == 20, f"{message.name}.spec must be field 20"
            if "status" in numbers:
                assert numbers["status"] == 21, f"{message.name}.status must be field 21"
            checked += 1
    assert checked >= 15, f"only {checked} reconciled resources found"


def test_resource_patterns_start_with_their_collection() -> None:
    for file in threeport_files():
        for message in file.message_type:
            descriptor = message.options.Extensions[annotations_pb2.resource]
            if not descriptor.type:
                continue
            assert descriptor.type == f"threeport.io/{message.name}"
            assert descriptor.plural and descriptor.singular
            for pattern in descriptor.pattern:
                collection = pattern.split("/")[-2]
                assert collection == descriptor.plural, f"{message.name}: {pattern}"


def test_mutating_methods_are_marked_for_audit() -> None:
    verbs = ("Create", "Update", "Delete", "Deploy", "Promote", "Rollback", "Approve", "Report",
             "Attach", "Revoke")
    for file in threeport_files():
        for service in file.service:
            for method in service.method:
                policy = method.options.Extensions[annotations_pb2.policy]
                if method.name.startswith(verbs) and not policy.internal:
                    assert policy.mutating, f"{service.name}/{method.name} must be mutating"
