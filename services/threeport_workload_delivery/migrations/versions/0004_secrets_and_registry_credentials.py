"""app secrets and registry credentials (issue 16): two standard resource tables

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("secrets", "registry_credentials")


def upgrade() -> None:
    for table in TABLES:
        op.create_table(
            table,
            sa.Column("uid", sa.Uuid(), nullable=False),
            sa.Column("name", sa.Text(), nullable=False),
            sa.Column("parent", sa.Text(), nullable=False),
            sa.Column("labels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
            sa.Column("annotations", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
            sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
            sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
            sa.Column("delete_time", sa.DateTime(timezone=True), nullable=True),
            sa.Column("etag", sa.Text(), nullable=False),
            sa.Column("generation", sa.BigInteger(), nullable=False),
            sa.Column("reconciling", sa.Boolean(), nullable=False),
            sa.Column("conditions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
            sa.Column("state", sa.Text(), nullable=False),
            sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
            sa.Column("status", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
            sa.Column("finalizers", postgresql.ARRAY(sa.Text()), nullable=False),
            sa.Column("request_id", sa.Text(), nullable=True),
            sa.Column("status_fence", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("uid", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("name", name=op.f(f"uq_{table}_name")),
            sa.UniqueConstraint("request_id", name=op.f(f"uq_{table}_request_id")),
            schema="delivery",
        )
        op.create_index(op.f(f"ix_{table}_parent"), table, ["parent"], unique=False, schema="delivery")


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(op.f(f"ix_{table}_parent"), table_name=table, schema="delivery")
        op.drop_table(table, schema="delivery")
