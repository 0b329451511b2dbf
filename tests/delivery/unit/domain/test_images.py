"""domain.images: which image each component runs, and why."""

from __future__ import annotations

from datetime import UTC, datetime

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import application_pb2, build_pb2
from threeport_workload_delivery.domain import images

SPEC = application_pb2.ApplicationSpec(components={
    "api": application_pb2.Component(image="reg.example.com/api:1.0"),
    "worker": application_pb2.Component(image="reg.example.com/worker:1.0"),
})
APP = "projects/acme/applications/shop"


def build(build_id: str, image: str = "reg.example.com/api:2.0", **git: str) -> build_pb2.Build:
    return build_pb2.Build(name=f"{APP}/builds/{build_id}", spec=build_pb2.BuildSpec(
        component="api", image=image, digest="sha256:" + "a" * 64, **git))


def test_without_builds_pins_or_records_the_application_image_runs() -> None:
    derived = images.derive(SPEC, {}, {}, None)
    assert {c: (s.image.image, s.origin) for c, s in derived.items()} == {
        "api": ("reg.example.com/api:1.0", images.APPLICATION),
        "worker": ("reg.example.com/worker:1.0", images.APPLICATION)}


def test_the_newest_matching_build_runs_and_says_where_it_came_from() -> None:
    found = build("b20261201t100000000000-aaaaaa", branch="main", commit="0123456789abcdef")
    derived = images.derive(SPEC, {}, {"api": found}, None)
    assert derived["api"].origin == images.BUILD
    assert derived["api"].image.build == found.name and derived["api"].image.digest
    assert derived["api"].message == "build b20261201t100000000000-aaaaaa of shop/api on branch main (0123456789ab)"
    assert derived["worker"].origin == images.APPLICATION


def test_a_pin_wins_over_builds_and_records() -> None:
    pin = release_pb2.ImageRef(image="reg.example.com/api:pinned")
    record = images.ImageRecord(images.ROLLBACK, "b20991231t000000000000", "rolled back",
                                {"api": release_pb2.ImageRef(image="reg.example.com/api:0.9")})
    derived = images.derive(SPEC, {"api": pin}, {"api": build("b20261201t100000000000-aaaaaa")}, record)
    assert derived["api"].origin == images.PIN and derived["api"].image == pin


def test_a_rollback_holds_until_a_newer_build_arrives() -> None:
    record = images.ImageRecord(images.ROLLBACK, "b20261201t120000000000", "rolled back to release 1",
                                {"api": release_pb2.ImageRef(image="reg.example.com/api:1.0")})
    older = build("b20261201t110000000000-aaaaaa")
    held = images.derive(SPEC, {}, {"api": older}, record)["api"]
    assert (held.origin, held.image.image, held.message) == (images.ROLLBACK, "reg.example.com/api:1.0",
                                                             "rolled back to release 1")
    newer = build("b20261201t130000000000-bbbbbb")
    assert images.derive(SPEC, {}, {"api": newer}, record)["api"].origin == images.BUILD


def test_records_round_trip_through_annotations_and_moments_compare_with_build_ids() -> None:
    when = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
    record = images.ImageRecord(images.PROMOTION, images.moment(when), "promoted release 3 from dev",
                                {"api": release_pb2.ImageRef(image="reg.example.com/api:2.0",
                                                             digest="sha256:" + "b" * 64)})
    annotations: dict[str, str] = {}
    images.write_record(annotations, record)
    assert images.read_record(annotations) == record
    assert images.read_record({images.IMAGES: "not json"}) is None
    assert "b20261201t120000123457-000000" > record.since > "b20261201t120000123455-ffffff"


def test_new_builds_names_only_builds_that_change_what_runs() -> None:
    found = build("b20261201t100000000000-aaaaaa")
    derived = images.derive(SPEC, {}, {"api": found}, None)
    assert [s.image.build for s in images.new_builds({}, derived)] == [found.name]
    assert images.new_builds(images.images_of(derived), derived) == []
    assert images.images_of(derived)["worker"] == release_pb2.ImageRef(image="reg.example.com/worker:1.0")
    assert derived["api"].origin == deployment_pb2.IMAGE_ORIGIN_BUILD
