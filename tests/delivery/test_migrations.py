"""Migration 0002: images the old build reconciler, promotions and rollbacks wrote into
``spec.images`` move to the derived-images record, so upgrading changes nothing that runs and
leaves ``spec.images`` to the user's pins; downgrading puts them back."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command

from threeport.delivery.v1alpha1 import deployment_pb2
from threeport_runtime.db.migrations import alembic_config, upgrade
from threeport_workload_delivery.domain import images
from threeport_workload_delivery.service import DEFINITION as DELIVERY

REF = {"image": "registry.example.com/rates/svc:2.0.0", "digest": "sha256:" + "d" * 64,
       "build": "projects/acme/applications/rates/builds/b20261130t100000000000-abcdef"}


def insert(engine: sa.Engine, spec: dict[str, Any]) -> uuid.UUID:
    uid = uuid.uuid4()
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO delivery.deployments (uid, name, parent, labels, annotations, create_time, update_time, "
            "etag, generation, reconciling, conditions, state, spec, status, finalizers, status_fence) VALUES "
            "(:uid, :name, 'projects/acme', '{}', '{\"team\": \"rates\"}', :now, :now, 'e', 3, false, '[]', "
            "'READY', CAST(:spec AS jsonb), '{}', '{}', 0)"),
            {"uid": uid, "name": f"projects/acme/deployments/rates-{uid.hex[:6]}", "now": now,
             "spec": json.dumps(spec)})
    return uid


def read(engine: sa.Engine, uid: uuid.UUID) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT spec, annotations, generation FROM delivery.deployments WHERE uid = :uid"), {"uid": uid}).one()


async def test_images_in_the_spec_move_to_the_record_and_back(database_url: str) -> None:
    await asyncio.to_thread(upgrade, DELIVERY.migrations_dir, database_url, "0001")
    engine = sa.create_engine(database_url)
    try:
        moved = insert(engine, {"application": "rates", "environment": "dev", "images": {"svc": REF}})
        untouched = insert(engine, {"application": "rates", "environment": "prod"})
        await asyncio.to_thread(upgrade, DELIVERY.migrations_dir, database_url)

        spec, annotations, generation = read(engine, moved)
        assert spec == {"application": "rates", "environment": "dev"} and generation == 3
        record = images.read_record(annotations)
        assert record is not None and annotations["team"] == "rates"
        assert record.origin == deployment_pb2.IMAGE_ORIGIN_PROMOTION
        assert record.images["svc"].image == REF["image"] and record.images["svc"].build == REF["build"]
        # A build reported after the deployment last changed supersedes it; an older one does not.
        assert "b20261130t120000000001-000000" > record.since > "b20261130t115959999999-ffffff"
        assert read(engine, untouched)[0] == {"application": "rates", "environment": "prod"}

        await asyncio.to_thread(command.downgrade, alembic_config(DELIVERY.migrations_dir, database_url), "0001")
        spec, annotations, _ = read(engine, moved)
        assert spec["images"]["svc"] == REF and images.IMAGES not in annotations
    finally:
        engine.dispose()


def insert_running(engine: sa.Engine, name: str, created: datetime, status: dict[str, Any]) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO delivery.deployments (uid, name, parent, labels, annotations, create_time, update_time, "
            "etag, generation, reconciling, conditions, state, spec, status, finalizers, status_fence) VALUES "
            "(:uid, :name, :parent, '{}', '{}', :now, :now, 'e', 1, false, '[]', 'READY', "
            "'{\"application\": \"x\", \"environment\": \"dev\"}', CAST(:status AS jsonb), '{}', 0)"),
            {"uid": uuid.uuid4(), "name": name, "parent": name.rsplit("/", 2)[0], "now": created,
             "status": json.dumps(status)})


async def test_namespaces_deployments_run_in_are_recorded_as_theirs_the_first_one_keeping_a_shared_one(
    database_url: str,
) -> None:
    """Migration 0003: each deployment's (cluster, namespace) becomes its claim; where two ran in
    one namespace (the takeover the claims now prevent), the older deployment keeps it."""
    await asyncio.to_thread(upgrade, DELIVERY.migrations_dir, database_url, "0002")
    engine = sa.create_engine(database_url)
    try:
        early, late = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
        shared = {"cluster": "clusters/c", "namespace": "b-rates-dev"}
        insert_running(engine, "projects/a/deployments/taker-dev", late, shared)
        insert_running(engine, "projects/b/deployments/rates-dev", early, shared)
        insert_running(engine, "projects/a/deployments/ledger-dev", late,
                       {"cluster": "clusters/c", "namespace": "a-ledger-dev"})
        insert_running(engine, "projects/a/deployments/new-dev", late, {})
        await asyncio.to_thread(upgrade, DELIVERY.migrations_dir, database_url)
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT cluster, namespace, project, deployment FROM delivery.namespace_claims ORDER BY namespace"
            )).all()
        assert [tuple(r) for r in rows] == [
            ("clusters/c", "a-ledger-dev", "a", "projects/a/deployments/ledger-dev"),
            ("clusters/c", "b-rates-dev", "b", "projects/b/deployments/rates-dev"),
        ]
        await asyncio.to_thread(command.downgrade, alembic_config(DELIVERY.migrations_dir, database_url), "0002")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT to_regclass('delivery.namespace_claims')")).scalar() is None
    finally:
        engine.dispose()
