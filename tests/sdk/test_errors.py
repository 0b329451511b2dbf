"""Server statuses become one exception class per code, with reason and field violations."""

from __future__ import annotations

import grpc
import pytest

from threeport.sdk import (
    AbortedError,
    ApiError,
    AsyncClient,
    Client,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    errors,
)

from .fake_registry import FakeApplicationService, rpc_failure


def test_invalid_argument_carries_reason_and_field_violations(
    client: Client, fake: FakeApplicationService
) -> None:
    fake.fail_next(
        "CreateApplication",
        rpc_failure(
            grpc.StatusCode.INVALID_ARGUMENT,
            "application_id must be a DNS-1123 label",
            reason="INVALID_FIELDS",
            violations=[("application_id", "use lowercase letters"), ("spec.components", "add one")],
        ),
    )

    with pytest.raises(InvalidArgumentError) as caught:
        client.application.create_application(parent="projects/acme", application_id="Bad!")

    error = caught.value
    assert isinstance(error, ApiError)
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == "application_id must be a DNS-1123 label"
    assert error.reason == "INVALID_FIELDS"
    assert error.domain == "threeport.io"
    assert error.field_violations == (
        FieldViolation("application_id", "use lowercase letters"),
        FieldViolation("spec.components", "add one"),
    )
    assert "application_id: use lowercase letters" in str(error)


def test_not_found_maps_to_not_found_error(client: Client) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.application.get_application(name="projects/acme/applications/missing")

    assert caught.value.reason == "RESOURCE_NOT_FOUND"
    assert "missing" in caught.value.message


def test_a_status_without_details_still_maps_by_code(client: Client, fake: FakeApplicationService) -> None:
    fake.fail_next("GetApplication", rpc_failure(grpc.StatusCode.ABORTED, "etag changed"))

    with pytest.raises(AbortedError) as caught:
        client.application.get_application(name="projects/acme/applications/x")

    assert caught.value.reason == ""
    assert caught.value.field_violations == ()


def test_every_grpc_error_code_has_its_own_class() -> None:
    codes = [code for code in grpc.StatusCode if code is not grpc.StatusCode.OK]

    assert sorted(errors.ERROR_CLASSES, key=lambda c: c.name) == sorted(codes, key=lambda c: c.name)
    assert len(set(errors.ERROR_CLASSES.values())) == len(codes)


async def test_async_errors_map_the_same_way(async_client: AsyncClient, fake: FakeApplicationService) -> None:
    fake.fail_next(
        "GetApplication",
        rpc_failure(
            grpc.StatusCode.INVALID_ARGUMENT, "bad", reason="INVALID_FIELDS", violations=[("name", "x")]
        ),
    )

    with pytest.raises(InvalidArgumentError) as caught:
        await async_client.application.get_application(name="bad")

    assert caught.value.reason == "INVALID_FIELDS"
    assert caught.value.field_violations == (FieldViolation("name", "x"),)
