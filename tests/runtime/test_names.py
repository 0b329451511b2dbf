"""``ResourceRepository.iter_names`` with a filter: which resources match, as names only (the
cluster-manager asks it for a cluster's bound claims on every cluster reconcile, and converting
each matching row made that cost grow with the claims on the cluster)."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

import pytest

from tests.runtime.toy_service.crash_writer import standalone_repository
from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime.db.engine import Database


async def test_names_matching_a_filter_come_without_converting_a_row(
    db: Database, stream_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository: Any = standalone_repository(db, stream_prefix)
    project = f"projects/names-{uuid.uuid4().hex[:8]}"
    teams = {"a": "blue", "b": "red", "c": "blue", "d": "blue"}
    for app, team in teams.items():
        labelled = application_pb2.Application(labels={"team": team})
        await repository.create(labelled, name=f"{project}/applications/{app}")
    await repository.add_finalizer(f"{project}/applications/d", "test/hold")
    await repository.delete(f"{project}/applications/d")  # held by its finalizer: being deleted

    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError("a row was converted to a message")

    monkeypatch.setattr(repository, "to_message", refuse)
    blue = f'labels.team = "blue" AND name = "{project}/*"'
    names = [f"{project}/applications/{app}" for app in ("a", "c", "d")]
    assert [name async for name in repository.iter_names(filter_text=blue)] == names
    assert [name async for name in repository.iter_names(filter_text=blue, batch_size=1)] == names
    shown = [name async for name in repository.iter_names(filter_text=blue, hide_deleting=True)]
    assert shown == names[:2]


async def test_names_under_a_parent_come_without_converting_a_row(
    db: Database, stream_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository: Any = standalone_repository(db, stream_prefix)
    run = uuid.uuid4().hex[:8]
    ours, theirs = f"projects/ours-{run}", f"projects/theirs-{run}"
    for project, app in ((ours, "a"), (theirs, "b"), (ours, "c")):
        await repository.create(application_pb2.Application(), name=f"{project}/applications/{app}")

    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError("a row was converted to a message")

    monkeypatch.setattr(repository, "to_message", refuse)
    names = [f"{ours}/applications/a", f"{ours}/applications/c"]
    assert [name async for name in repository.iter_names(parent=ours)] == names
    assert [name async for name in repository.iter_names(parent=ours, batch_size=1)] == names
    assert [name async for name in repository.iter_names(parent=theirs)] == [f"{theirs}/applications/b"]
