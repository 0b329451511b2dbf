"""domain.ownership: who a live Namespace says owns it, what may be deleted, the mark applied."""

from __future__ import annotations

from typing import Any

from threeport_workload_delivery.domain import names, ownership

MINE = "projects/acme/deployments/rates-dev"


def namespace(name: str, project: str = "acme", deployment: str = "rates-dev", owner: str | None = MINE,
              managed: bool = True) -> dict[str, Any]:
    labels = {names.PROJECT_LABEL: project, names.DEPLOYMENT_LABEL: deployment}
    if managed:
        labels[names.MANAGED_BY] = "threeport"
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if owner is not None:
        metadata["annotations"] = {ownership.OWNER_ANNOTATION: owner}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def test_the_owner_is_the_annotation_when_the_labels_agree() -> None:
    assert ownership.owner_of(namespace("acme-rates-dev")) == MINE
    # Made before the annotation existed: the labels say it.
    assert ownership.owner_of(namespace("acme-rates-dev", owner=None)) == MINE
    # Labels and annotation disagree, or it is not Threeport's: nobody's.
    assert ownership.owner_of(namespace("x", project="zeta")) == ""
    assert ownership.owner_of(namespace("x", managed=False)) == ""
    assert ownership.owner_of({"metadata": {"name": "kube-system"}}) == ""


def test_refusals_say_why_without_naming_another_project() -> None:
    assert ownership.refusal(None, MINE) is None
    assert ownership.refusal(namespace("acme-rates-dev"), MINE) is None
    assert "not created by Threeport" in (ownership.refusal({"metadata": {"name": "acme-x"}}, MINE) or "")
    sibling = namespace("acme-shared", deployment="other-dev", owner="projects/acme/deployments/other-dev")
    assert "projects/acme/deployments/other-dev" in (ownership.refusal(sibling, MINE) or "")
    foreign = namespace("zeta-rates-dev", project="zeta", owner="projects/zeta/deployments/rates-dev")
    message = ownership.refusal(foreign, MINE) or ""
    assert "another project" in message and "zeta" not in message.replace("zeta-rates-dev", "")


def test_only_objects_in_owned_namespaces_may_be_deleted() -> None:
    live = {
        ("v1", "Namespace", "", "acme-rates-dev"): namespace("acme-rates-dev"),
        ("v1", "Service", "acme-rates-dev", "rates-svc"): {},
        ("v1", "Namespace", "", "zeta-rates-dev"): namespace("zeta-rates-dev", owner="projects/zeta/deployments/x"),
        ("v1", "ConfigMap", "zeta-rates-dev", "rates-svc"): {},
        ("v1", "ConfigMap", "elsewhere", "rates-svc"): {},
    }
    mine, others = ownership.split_owned(live, MINE)
    assert set(mine) == {("v1", "Namespace", "", "acme-rates-dev"), ("v1", "Service", "acme-rates-dev", "rates-svc")}
    assert len(others) == 3


def test_the_namespace_is_marked_when_applied_and_the_rest_untouched() -> None:
    rendered = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-rates-dev", "labels": {}}},
                {"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": "rates-svc", "namespace": "acme-rates-dev"}}]
    applied = ownership.marked(rendered, MINE)
    assert applied[0]["metadata"]["annotations"] == {ownership.OWNER_ANNOTATION: MINE}
    assert "annotations" not in rendered[0]["metadata"]  # the rendering (a release's content) is unchanged
    assert applied[1] is rendered[1]


def crd(owner: str | None, project: str = "acme", deployment: str = "rates-dev") -> dict[str, Any]:
    found = namespace("widgets.example.com", project=project, deployment=deployment, owner=owner)
    return {**found, "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}


def test_cluster_scoped_objects_are_marked_and_owned_like_namespaces() -> None:
    rendered = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "acme-rates-dev"}},
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
         "metadata": {"name": "widgets.example.com"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "acme-rates-dev"}},
    ]
    marks = [o["metadata"].get("annotations", {}).get(ownership.OWNER_ANNOTATION) for o in
             ownership.marked(rendered, MINE)]
    assert marks == [MINE, MINE, None]

    other = "projects/zeta/deployments/rates-dev"
    live = {
        ("v1", "Namespace", "", "acme-rates-dev"): namespace("acme-rates-dev"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "mine.example.com"): crd(MINE),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "theirs.example.com"):
            crd(other, project="zeta"),
    }
    mine, others = ownership.split_owned(live, MINE)
    assert ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "mine.example.com") in mine
    assert others == [("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "theirs.example.com")]

    assert ownership.object_refusal(None, MINE) is None
    assert ownership.object_refusal(crd(MINE), MINE) is None
    refusal = ownership.object_refusal(crd(other, project="zeta"), MINE) or ""
    assert "CustomResourceDefinition 'widgets.example.com'" in refusal and "zeta" not in refusal
    assert ownership.object_refusal({"kind": "ClusterRole", "metadata": {"name": "admin"}}, MINE)
