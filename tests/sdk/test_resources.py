"""The resource index: lookups by any name form and by resource name, and method binding."""

from __future__ import annotations

import pytest

from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.sdk import Client, resources

from .fake_registry import FakeApplicationService


@pytest.mark.parametrize(
    "word", ["app", "apps", "application", "applications", "Application", "APPS", "threeport.io/Application"]
)
def test_every_name_form_finds_the_application_type(word: str) -> None:
    found = resources.lookup(word)

    assert found.type_name == "threeport.io/Application"
    assert found.message_type is app_pb2.Application


def test_standard_methods_are_found() -> None:
    found = resources.lookup("app")

    assert found.get is not None and found.get.python_name == "get_application"
    assert found.list is not None and found.list.python_name == "list_applications"
    assert found.create is not None and found.create.request_type is app_pb2.CreateApplicationRequest
    assert found.update is not None and found.delete is not None and found.watch is not None
    assert (found.list_items_field, found.watch_field) == ("applications", "application")
    assert found.get.idempotent and not found.create.idempotent


def test_camel_case_plurals_match_with_dashes_or_underscores() -> None:
    assert resources.lookup("cluster-profiles").kind == "ClusterProfile"
    assert resources.lookup("cluster_profile").kind == "ClusterProfile"


def test_lookup_by_resource_name() -> None:
    assert resources.for_name("projects/acme/applications/shop").kind == "Application"
    assert resources.for_name("projects/acme/applications/shop/builds/b1").type_name == "threeport.io/Build"
    assert resources.for_name("projects/acme/environments/prod").kind == "Environment"


@pytest.mark.parametrize("name", ["projects/acme/widgets/w", "projects//applications/shop", ""])
def test_names_of_no_known_type_are_refused(name: str) -> None:
    with pytest.raises(LookupError):
        resources.for_name(name)


def test_unknown_words_list_the_known_types() -> None:
    with pytest.raises(LookupError, match="applications"):
        resources.lookup("widget")
    assert resources.find("widget") is None


def test_internal_methods_are_reached_through_client_internal() -> None:
    claim = resources.lookup("clusterClaims")

    assert claim.get is not None and claim.get.internal
    assert claim.get.client_path[0] == "internal"
    client = Client("127.0.0.1:1")
    try:
        assert callable(claim.get.bind(client))
        assert not hasattr(client, claim.get.client_path[-1])
    finally:
        client.close()


def test_a_method_ref_binds_to_a_live_client(client: Client, fake: FakeApplicationService) -> None:
    fake.store["projects/acme/applications/shop"] = app_pb2.Application(
        name="projects/acme/applications/shop"
    )
    get = resources.lookup("app").get
    assert get is not None

    found = get.bind(client)(name="projects/acme/applications/shop")

    assert found.name == "projects/acme/applications/shop"
