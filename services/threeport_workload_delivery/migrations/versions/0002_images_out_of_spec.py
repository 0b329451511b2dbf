"""images written by builds, promotions and rollbacks move out of spec.images

Before 0002 the build reconciler, promotions and rollbacks wrote images into a deployment's
``spec.images``. Since then that field holds only the user's pins and those images are derived
at every reconcile; what they wrote moves to the ``delivery.threeport.io/images`` record (as of
the deployment's last change), so upgrading changes nothing that runs and a build reported
after the upgrade rolls out as usual. Generations are kept: what runs did not change.

Revision ID: 0002
Revises: 0001
"""

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from google.protobuf import json_format

from threeport.delivery.v1alpha1 import release_pb2
from threeport_workload_delivery.domain import images

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CARRIED = "carried over from spec.images when images became derived (a newer build replaces it)"


def _rows(where: str) -> list[Any]:
    return list(op.get_bind().execute(sa.text(
        f"SELECT uid, spec, annotations, update_time FROM delivery.deployments WHERE {where}")).mappings())


def _write(uid: Any, spec: dict[str, Any], annotations: dict[str, str]) -> None:
    op.get_bind().execute(sa.text(
        "UPDATE delivery.deployments SET spec = CAST(:spec AS jsonb), annotations = CAST(:annotations AS jsonb) "
        "WHERE uid = :uid"), {"uid": uid, "spec": json.dumps(spec), "annotations": json.dumps(annotations)})


def upgrade() -> None:
    for row in _rows("spec->'images' IS NOT NULL AND spec->'images' <> '{}'::jsonb"):
        spec = dict(row["spec"])
        written = spec.pop("images")
        annotations = dict(row["annotations"])
        if images.IMAGES not in annotations:
            when: datetime = row["update_time"]
            images.write_record(annotations, images.ImageRecord(
                images.PROMOTION, images.moment(when), CARRIED,
                {c: json_format.ParseDict(ref, release_pb2.ImageRef()) for c, ref in written.items()}))
        _write(row["uid"], spec, annotations)


def downgrade() -> None:
    for row in _rows(f"annotations ? '{images.IMAGES}'"):
        annotations = dict(row["annotations"])
        record = images.read_record(annotations)
        annotations.pop(images.IMAGES)
        spec = dict(row["spec"])
        if record is not None:
            spec["images"] = {c: json_format.MessageToDict(ref, preserving_proto_field_name=True)
                              for c, ref in record.images.items()}
        _write(row["uid"], spec, annotations)
