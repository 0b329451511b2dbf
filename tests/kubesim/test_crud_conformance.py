"""CRUD semantics through the official typed and dynamic clients: metadata bookkeeping, Status
errors, generateName, selectors, pagination, dry-run, Secrets' stringData and discovery."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client, dynamic

from tests.kubesim.helpers import deployment

ConfigMap = client.V1ConfigMap
Meta = client.V1ObjectMeta


def test_discovery_and_version(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().git_version.startswith("v1.32")
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {
        "apps",
        "batch",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "policy",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
    } <= groups
    resources = {r.name for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {
        "pods",
        "pods/status",
        "namespaces",
        "services",
        "secrets",
        "configmaps",
        "events",
        "nodes",
        "serviceaccounts",
        "persistentvolumeclaims",
    } <= resources
    apps_resources = {r.name for r in client.AppsV1Api(api).get_api_resources().resources}
    assert {"deployments", "deployments/scale", "statefulsets", "daemonsets", "replicasets"} <= apps_resources


def test_create_sets_metadata_and_update_bumps_resource_version(core: client.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="cfg"), data={"a": "1"}))
    assert created.metadata.uid and created.metadata.creation_timestamp is not None
    first_rv = int(created.metadata.resource_version)
    created.data["a"] = "2"
    updated = core.replace_namespaced_config_map("cfg", namespace, created)
    assert int(updated.metadata.resource_version) > first_rv
    assert updated.metadata.uid == created.metadata.uid
    assert core.read_namespaced_config_map("cfg", namespace).data == {"a": "2"}


def test_error_statuses(core: client.CoreV1Api, namespace: str) -> None:
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_config_map("nope", namespace)
    assert missing.value.status == 404
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="dup")))
    with pytest.raises(client.ApiException) as exists:
        core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="dup")))
    assert exists.value.status == 409 and "AlreadyExists" in exists.value.body
    with pytest.raises(client.ApiException) as bad_name:
        core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="Not_Valid")))
    assert bad_name.value.status == 422 and "Invalid" in bad_name.value.body
    with pytest.raises(client.ApiException) as no_namespace:
        core.create_namespaced_config_map("does-not-exist", ConfigMap(metadata=Meta(name="x")))
    assert no_namespace.value.status == 404


def test_stale_resource_version_conflicts(core: client.CoreV1Api, namespace: str) -> None:
    first = core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="occ"), data={"v": "1"}))
    core.patch_namespaced_config_map("occ", namespace, {"data": {"v": "2"}})
    first.data["v"] = "stale"
    with pytest.raises(client.ApiException) as conflict:
        core.replace_namespaced_config_map("occ", namespace, first)
    assert conflict.value.status == 409 and "Conflict" in conflict.value.body
    assert core.read_namespaced_config_map("occ", namespace).data == {"v": "2"}


def test_missing_required_fields_are_invalid(dynamic_client: dynamic.DynamicClient, namespace: str) -> None:
    # The typed client refuses to send these bodies, so go through the dynamic client.
    deployments = dynamic_client.resources.get(api_version="apps/v1", kind="Deployment")
    broken = deployment("broken")
    del broken["spec"]["selector"]
    with pytest.raises(dynamic.exceptions.DynamicApiError) as invalid:
        deployments.create(body=broken, namespace=namespace)
    assert invalid.value.status == 422 and "spec.selector" in invalid.value.body
    mismatched = deployment("mismatch")
    mismatched["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(dynamic.exceptions.DynamicApiError) as selector:
        deployments.create(body=mismatched, namespace=namespace)
    assert selector.value.status == 422
    no_image = deployment("noimage")
    del no_image["spec"]["template"]["spec"]["containers"][0]["image"]
    with pytest.raises(dynamic.exceptions.DynamicApiError) as image:
        deployments.create(body=no_image, namespace=namespace)
    assert "spec.template.spec.containers[0].image" in image.value.body


def test_generate_name(core: client.CoreV1Api, namespace: str) -> None:
    one = core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(generate_name="gen-")))
    two = core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(generate_name="gen-")))
    assert one.metadata.name.startswith("gen-") and len(one.metadata.name) == len("gen-") + 5
    assert one.metadata.name != two.metadata.name


def test_generation_moves_only_with_spec(apps: client.AppsV1Api, namespace: str) -> None:
    created = apps.create_namespaced_deployment(namespace, deployment("gen", replicas=1))
    assert created.metadata.generation == 1
    labelled = apps.patch_namespaced_deployment("gen", namespace, {"metadata": {"labels": {"extra": "yes"}}})
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("gen", namespace, {"spec": {"replicas": 2}})
    assert scaled.metadata.generation == 2


def test_label_and_field_selectors(core: client.CoreV1Api, namespace: str) -> None:
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name=name, labels={"tier": tier})))

    def names(**kwargs: str) -> list[str]:
        return [c.metadata.name for c in core.list_namespaced_config_map(namespace, **kwargs).items]

    assert names(label_selector="tier=web") == ["a", "b"]
    assert names(label_selector="tier!=web") == ["c"]
    assert names(label_selector="tier in (db,cache)") == ["c"]
    assert names(label_selector="!tier") == []
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b", label_selector="tier") == ["a", "c"]
    with pytest.raises(client.ApiException) as unsupported:
        names(field_selector="data.x=1")
    assert unsupported.value.status == 400


def test_pagination_with_limit_and_continue(core: client.CoreV1Api, namespace: str) -> None:
    for index in range(7):
        core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name=f"page-{index}")))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        seen += [c.metadata.name for c in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count > 0
    assert pages == 3
    assert [n for n in seen if n.startswith("page-")] == [f"page-{i}" for i in range(7)]


def test_dry_run_changes_nothing(core: client.CoreV1Api, namespace: str) -> None:
    dry = core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="dry")), dry_run="All")
    assert dry.metadata.name == "dry"
    with pytest.raises(client.ApiException):
        core.read_namespaced_config_map("dry", namespace)
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="wet"), data={"k": "v"}))
    core.patch_namespaced_config_map("wet", namespace, {"data": {"k": "changed"}}, dry_run="All")
    core.delete_namespaced_config_map("wet", namespace, dry_run="All")
    assert core.read_namespaced_config_map("wet", namespace).data == {"k": "v"}


def test_secret_string_data_becomes_data(core: client.CoreV1Api, namespace: str) -> None:
    secret = core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=Meta(name="creds"), string_data={"password": "hunter2"}, data={"user": "YWRtaW4="}),
    )
    assert secret.type == "Opaque"
    assert secret.string_data is None
    assert base64.b64decode(secret.data["password"]) == b"hunter2"
    assert secret.data["user"] == "YWRtaW4="


def test_cluster_scoped_and_rbac_kinds(api: client.ApiClient, namespace: str) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"{namespace}:reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
    }
    rbac.create_cluster_role(role)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "read"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": f"{namespace}:reader",
        },
    }
    rbac.create_namespaced_role_binding(namespace, binding)
    assert rbac.read_cluster_role(f"{namespace}:reader").rules[0].verbs == ["get", "list"]
    with pytest.raises(client.ApiException) as immutable:
        rbac.patch_namespaced_role_binding("read", namespace, {"roleRef": {"name": "other"}})
    assert immutable.value.status == 422
    policy = client.PolicyV1Api(api)
    policy.create_namespaced_pod_disruption_budget(
        namespace,
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "pdb"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}},
        },
    )
    networking = client.NetworkingV1Api(api)
    networking.create_namespaced_network_policy(
        namespace,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        },
    )
    admission = client.AdmissionregistrationV1Api(api)
    admission.create_validating_webhook_configuration(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": f"{namespace}-hook"},
            "webhooks": [],
        }
    )
    assert admission.read_validating_webhook_configuration(f"{namespace}-hook").metadata.name == f"{namespace}-hook"


def test_dynamic_client_round_trip(dynamic_client: dynamic.DynamicClient, namespace: str) -> None:
    dyn = dynamic_client
    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.create(
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn"}, "data": {"x": "1"}},
        namespace=namespace,
    )
    fetched = configmaps.get(name="dyn", namespace=namespace)
    assert fetched.data.x == "1"
    listed = configmaps.get(namespace=namespace, label_selector="")
    assert "dyn" in [item.metadata.name for item in listed.items]
    configmaps.delete(name="dyn", namespace=namespace)
    with pytest.raises(dynamic.exceptions.NotFoundError):
        configmaps.get(name="dyn", namespace=namespace)


def test_default_service_account_and_namespace_defaults(core: client.CoreV1Api, namespace: str) -> None:
    ns = core.read_namespace(namespace)
    assert ns.status.phase == "Active"
    assert ns.metadata.labels["kubernetes.io/metadata.name"] == namespace
    from tests.kubesim.helpers import wait_for

    wait_for(lambda: core.read_namespaced_service_account("default", namespace), what="default service account")


def test_protobuf_bodies_are_refused_with_415(api: client.ApiClient, namespace: str) -> None:
    try:
        response = api.call_api(
            *api.param_serialize(
                "POST",
                f"/api/v1/namespaces/{namespace}/configmaps",
                body="k8s\x00binary",
                header_params={"Content-Type": "application/vnd.kubernetes.protobuf"},
                auth_settings=["BearerToken"],
            )
        )
        response.read()
        status = response.status
    except client.ApiException as exc:
        status = exc.status
    assert status == 415
