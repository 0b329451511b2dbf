"""Deletion semantics: finalizers and deletionTimestamp, namespace cascade, ownerReference garbage
collection with background, foreground and orphan propagation."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from tests.kubesim.helpers import deployment, wait_for

ConfigMap = client.V1ConfigMap
Meta = client.V1ObjectMeta


def _gone(call: object) -> bool:
    try:
        call()  # type: ignore[operator]
    except client.ApiException as exc:
        return exc.status == 404
    return False


def test_finalizer_holds_deletion_until_removed(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="held", finalizers=["sim/hold"])))
    core.delete_namespaced_config_map("held", namespace)
    pending = core.read_namespaced_config_map("held", namespace)
    assert pending.metadata.deletion_timestamp is not None
    with pytest.raises(client.ApiException) as forbidden:
        core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": ["sim/hold", "sim/new"]}})
    assert forbidden.value.status == 403
    core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": None}})
    assert _gone(lambda: core.read_namespaced_config_map("held", namespace))


def test_namespace_deletion_cascades_and_waits_for_finalizers(core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    name = f"doomed-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=Meta(name=name)))
    apps.create_namespaced_deployment(name, deployment("app", replicas=1))
    core.create_namespaced_config_map(name, ConfigMap(metadata=Meta(name="sticky", finalizers=["sim/hold"])))
    wait_for(lambda: core.list_namespaced_pod(name).items, what="pods in the namespace")
    core.delete_namespace(name)
    assert core.read_namespace(name).status.phase == "Terminating"
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_config_map(name, ConfigMap(metadata=Meta(name="late")))
    assert refused.value.status == 403
    wait_for(
        lambda: not apps.list_namespaced_deployment(name).items and not core.list_namespaced_pod(name).items,
        what="namespace contents deleted",
    )
    assert core.read_namespace(name).status.phase == "Terminating"
    core.patch_namespaced_config_map("sticky", name, {"metadata": {"finalizers": None}})
    wait_for(lambda: _gone(lambda: core.read_namespace(name)), what="namespace removed")


def _owned_config_map(owner: client.V1ConfigMap, name: str) -> ConfigMap:
    ref = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name=owner.metadata.name, uid=owner.metadata.uid)
    return ConfigMap(metadata=Meta(name=name, owner_references=[ref]))


def test_background_garbage_collection(core: client.CoreV1Api, namespace: str) -> None:
    owner = core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="owner")))
    core.create_namespaced_config_map(namespace, _owned_config_map(owner, "child"))
    core.delete_namespaced_config_map("owner", namespace)
    wait_for(lambda: _gone(lambda: core.read_namespaced_config_map("child", namespace)), what="child collected")


def test_foreground_deletion_removes_dependents_first(core: client.CoreV1Api, namespace: str) -> None:
    owner = core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="fg-owner")))
    core.create_namespaced_config_map(namespace, _owned_config_map(owner, "fg-child"))
    core.delete_namespaced_config_map("fg-owner", namespace, propagation_policy="Foreground")
    wait_for(lambda: _gone(lambda: core.read_namespaced_config_map("fg-owner", namespace)), what="owner removed")
    assert _gone(lambda: core.read_namespaced_config_map("fg-child", namespace))


def test_orphan_deletion_keeps_dependents(core: client.CoreV1Api, namespace: str) -> None:
    owner = core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="or-owner")))
    core.create_namespaced_config_map(namespace, _owned_config_map(owner, "or-child"))
    core.delete_namespaced_config_map("or-owner", namespace, propagation_policy="Orphan")
    wait_for(lambda: _gone(lambda: core.read_namespaced_config_map("or-owner", namespace)), what="owner removed")
    child = core.read_namespaced_config_map("or-child", namespace)
    assert not child.metadata.owner_references


def test_deleting_a_deployment_collects_replicasets_and_pods(
    core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("gc", replicas=2))
    wait_for(lambda: len(core.list_namespaced_pod(namespace, label_selector="app=gc").items) == 2, what="pods")
    apps.delete_namespaced_deployment("gc", namespace)
    wait_for(
        lambda: not apps.list_namespaced_replica_set(namespace).items and not core.list_namespaced_pod(namespace).items,
        what="replicasets and pods collected",
    )


def test_delete_preconditions(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="pre")))
    with pytest.raises(client.ApiException) as conflict:
        core.delete_namespaced_config_map(
            "pre",
            namespace,
            body=client.V1DeleteOptions(
                preconditions=client.V1Preconditions(uid="00000000-0000-0000-0000-000000000000")
            ),
        )
    assert conflict.value.status == 409
