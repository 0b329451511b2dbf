"""namespace claims: one owning deployment per (cluster, namespace)

Existing deployments keep the namespaces they run in: each gets the claim for its
``status.cluster`` and ``status.namespace``, oldest deployment first, so where two deployments
already shared a namespace the one that created it keeps it and the other is refused at its
next reconcile.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "namespace_claims",
        sa.Column("cluster", sa.Text(), nullable=False),
        sa.Column("namespace", sa.Text(), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("deployment", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cluster", "namespace", name=op.f("pk_namespace_claims")),
        schema="delivery",
    )
    op.create_index(op.f("ix_namespace_claims_deployment"), "namespace_claims", ["deployment"], unique=False,
                    schema="delivery")
    op.execute(
        "INSERT INTO delivery.namespace_claims (cluster, namespace, project, deployment, create_time) "
        "SELECT status->>'cluster', status->>'namespace', split_part(name, '/', 2), name, create_time "
        "FROM delivery.deployments "
        "WHERE coalesce(status->>'cluster', '') <> '' AND coalesce(status->>'namespace', '') <> '' "
        "ORDER BY create_time, name ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_namespace_claims_deployment"), table_name="namespace_claims", schema="delivery")
    op.drop_table("namespace_claims", schema="delivery")
