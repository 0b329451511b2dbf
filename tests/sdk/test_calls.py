"""Keyword arguments, pagination, request ids and metadata, through sync and async clients."""

from __future__ import annotations

import uuid

import pytest

from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.sdk import AsyncClient, Client

from .fake_registry import FakeApplicationService, FakeServer


def _store(fake: FakeApplicationService, count: int) -> list[str]:
    names = [f"projects/acme/applications/app{i}" for i in range(count)]
    for name in names:
        fake.store[name] = app_pb2.Application(name=name)
    fake.store["projects/other/applications/elsewhere"] = app_pb2.Application(name="x")
    return names


def test_list_iterates_every_page_passing_the_page_token(
    client: Client, fake: FakeApplicationService
) -> None:
    names = _store(fake, 5)

    listed = [app.name for app in client.application.list_applications(parent="projects/acme", page_size=2)]

    assert listed == names
    tokens = [r.page_token for r in fake.seen.requests["ListApplications"]]  # type: ignore[attr-defined]
    assert tokens == ["", "2", "4"]
    assert {r.page_size for r in fake.seen.requests["ListApplications"]} == {2}  # type: ignore[attr-defined]


def test_list_page_returns_one_page_with_its_token(client: Client, fake: FakeApplicationService) -> None:
    _store(fake, 3)

    page = client.application.list_applications_page(parent="projects/acme", page_size=2)

    assert len(page.applications) == 2
    assert page.next_page_token == "2"


async def test_async_list_iterates_every_page(
    async_client: AsyncClient, fake: FakeApplicationService
) -> None:
    names = _store(fake, 5)

    listed = [
        app.name
        async for app in async_client.application.list_applications(parent="projects/acme", page_size=2)
    ]

    assert listed == names


def test_create_fills_request_id_without_changing_the_callers_message(
    client: Client, fake: FakeApplicationService
) -> None:
    request = app_pb2.CreateApplicationRequest(parent="projects/acme", application_id="shop")

    client.application.create_application(request=request)

    sent = fake.seen.requests["CreateApplication"][0]
    assert uuid.UUID(sent.request_id)  # type: ignore[attr-defined]
    assert request.request_id == ""


def test_create_keeps_a_request_id_given_by_the_caller(client: Client, fake: FakeApplicationService) -> None:
    client.application.create_application(parent="projects/acme", application_id="shop", request_id="mine")

    assert fake.seen.requests["CreateApplication"][0].request_id == "mine"  # type: ignore[attr-defined]


def test_auto_request_id_can_be_turned_off(server: FakeServer, fake: FakeApplicationService) -> None:
    with Client(server.target, auto_request_id=False) as client:
        client.application.create_application(parent="projects/acme", application_id="shop")

    assert fake.seen.requests["CreateApplication"][0].request_id == ""  # type: ignore[attr-defined]


def test_keyword_arguments_replace_fields_of_a_whole_request(
    client: Client, fake: FakeApplicationService
) -> None:
    base = app_pb2.CreateApplicationRequest(
        parent="projects/acme", application_id="old", application=app_pb2.Application(labels={"a": "1"})
    )

    created = client.application.create_application(
        request=base, application_id="new", application=app_pb2.Application(labels={"team": "payments"})
    )

    assert created.name == "projects/acme/applications/new"
    assert dict(created.labels) == {"team": "payments"}
    assert base.application_id == "old"


def test_bearer_token_and_extra_metadata_are_sent(server: FakeServer, fake: FakeApplicationService) -> None:
    fake.store["projects/acme/applications/shop"] = app_pb2.Application(
        name="projects/acme/applications/shop"
    )
    with Client(server.target, token="s3cret", metadata=[("x-tenant", "acme")]) as client:
        client.application.get_application(name="projects/acme/applications/shop", metadata=[("x-call", "1")])

    sent = fake.seen.metadata["GetApplication"][0]
    assert sent["authorization"] == "Bearer s3cret"
    assert sent["x-tenant"] == "acme"
    assert sent["x-call"] == "1"


def test_a_service_credential_travels_as_given(server: FakeServer, fake: FakeApplicationService) -> None:
    fake.store["projects/acme/applications/shop"] = app_pb2.Application(
        name="projects/acme/applications/shop"
    )
    with Client(server.target, metadata=[("authorization", "Service cred")]) as client:
        client.application.get_application(name="projects/acme/applications/shop")

    assert fake.seen.metadata["GetApplication"][0]["authorization"] == "Service cred"


def test_token_and_an_authorization_entry_together_are_refused(server: FakeServer) -> None:
    with pytest.raises(ValueError, match="token"):
        Client(server.target, token="t", metadata=[("Authorization", "Service cred")])


async def test_async_client_sends_token_and_request_id(
    async_client: AsyncClient, fake: FakeApplicationService
) -> None:
    created = await async_client.application.create_application(parent="projects/acme", application_id="shop")

    assert created.name == "projects/acme/applications/shop"
    assert fake.seen.metadata["CreateApplication"][0]["authorization"] == "Bearer t0k"
    assert fake.seen.requests["CreateApplication"][0].request_id  # type: ignore[attr-defined]


def test_mutual_tls_needs_both_certificate_and_key(server: FakeServer) -> None:
    with pytest.raises(ValueError, match="client_cert and client_key"):
        Client(server.target, tls=True, client_cert=b"cert")
