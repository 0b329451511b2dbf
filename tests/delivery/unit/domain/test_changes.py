"""domain.changes: change notes, the configuration pin, and annotations kept across user updates."""

from __future__ import annotations

from threeport.delivery.v1alpha1 import release_pb2
from threeport_workload_delivery.domain import changes


def test_a_change_note_round_trips_and_garbage_reads_as_none() -> None:
    note = changes.new_change(release_pb2.RELEASE_REASON_PROMOTION, "promoted", source_release="r/1", created_by="p")
    annotations: dict[str, str] = {}
    changes.write_change(annotations, note)
    assert changes.read_change(annotations) == note
    assert note.reason_value == release_pb2.RELEASE_REASON_PROMOTION
    assert changes.read_change({changes.CHANGE: "{"}) is None


def test_the_configuration_pin_expires_when_the_application_changes() -> None:
    annotations = {changes.CONFIG_RELEASE: "3@7"}
    assert changes.config_pin(annotations, 7) == 3
    assert changes.config_pin(annotations, 8) == 0
    assert changes.config_pin({changes.CONFIG_RELEASE: "x@7"}, 7) == 0


def test_delivery_annotations_survive_an_update_that_leaves_them_out() -> None:
    existing = {changes.CONFIG_RELEASE: "3@7", changes.CHANGE: "{}", "team": "payments"}
    requested = {"team": "billing", changes.CHANGE: "explicit"}
    changes.keep_owned(existing, requested)
    assert requested == {"team": "billing", changes.CHANGE: "explicit", changes.CONFIG_RELEASE: "3@7"}
