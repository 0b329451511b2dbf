"""gateway schema: projects, principals, tokens, role bindings, audit log

Revision ID: 0001
Revises:
Create Date: 2026-11-25 04:33:41.553457
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_entries",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("project", sa.Text(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("trace_id", sa.Text(), nullable=False),
        sa.Column("peer", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_entries")),
        schema="gateway",
    )
    op.create_index(op.f("ix_audit_entries_principal"), "audit_entries", ["principal"], unique=False, schema="gateway")
    op.create_index(op.f("ix_audit_entries_project"), "audit_entries", ["project"], unique=False, schema="gateway")
    op.create_index(op.f("ix_audit_entries_time"), "audit_entries", ["time"], unique=False, schema="gateway")
    op.create_table(
        "bootstrap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bootstrap")),
        schema="gateway",
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("resource_uid", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_events_fingerprint")),
        schema="gateway",
    )
    op.create_index(
        op.f("ix_events_resource_last_time"),
        "events",
        ["resource", "last_time"],
        unique=False,
        schema="gateway",
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        schema="gateway",
    )
    op.create_table(
        "principals",
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
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_principals")),
        sa.UniqueConstraint("name", name=op.f("uq_principals_name")),
        sa.UniqueConstraint("request_id", name=op.f("uq_principals_request_id")),
        schema="gateway",
    )
    op.create_index(op.f("ix_principals_parent"), "principals", ["parent"], unique=False, schema="gateway")
    op.create_table(
        "projects",
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
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
        sa.UniqueConstraint("request_id", name=op.f("uq_projects_request_id")),
        schema="gateway",
    )
    op.create_index(op.f("ix_projects_parent"), "projects", ["parent"], unique=False, schema="gateway")
    op.create_table(
        "role_bindings",
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
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_role_bindings")),
        sa.UniqueConstraint("name", name=op.f("uq_role_bindings_name")),
        sa.UniqueConstraint("request_id", name=op.f("uq_role_bindings_request_id")),
        schema="gateway",
    )
    op.create_index(op.f("ix_role_bindings_parent"), "role_bindings", ["parent"], unique=False, schema="gateway")
    op.create_index(
        "ix_role_bindings_spec_principal",
        "role_bindings",
        [sa.literal_column("(spec ->> 'principal')")],
        unique=False,
        schema="gateway",
    )
    op.create_index(
        "ix_role_bindings_spec_project",
        "role_bindings",
        [sa.literal_column("(spec ->> 'project')")],
        unique=False,
        schema="gateway",
    )
    op.create_table(
        "tokens",
        sa.Column("secret_hash", sa.Text(), nullable=True),
        sa.Column("last_used_time", sa.DateTime(timezone=True), nullable=True),
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
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_tokens_name")),
        sa.UniqueConstraint("request_id", name=op.f("uq_tokens_request_id")),
        schema="gateway",
    )
    op.create_index(op.f("ix_tokens_parent"), "tokens", ["parent"], unique=False, schema="gateway")


def downgrade() -> None:

    op.drop_index(op.f("ix_tokens_parent"), table_name="tokens", schema="gateway")
    op.drop_table("tokens", schema="gateway")
    op.drop_index("ix_role_bindings_spec_project", table_name="role_bindings", schema="gateway")
    op.drop_index("ix_role_bindings_spec_principal", table_name="role_bindings", schema="gateway")
    op.drop_index(op.f("ix_role_bindings_parent"), table_name="role_bindings", schema="gateway")
    op.drop_table("role_bindings", schema="gateway")
    op.drop_index(op.f("ix_projects_parent"), table_name="projects", schema="gateway")
    op.drop_table("projects", schema="gateway")
    op.drop_index(op.f("ix_principals_parent"), table_name="principals", schema="gateway")
    op.drop_table("principals", schema="gateway")
    op.drop_table("outbox", schema="gateway")
    op.drop_index(op.f("ix_events_resource_last_time"), table_name="events", schema="gateway")
    op.drop_table("events", schema="gateway")
    op.drop_table("bootstrap", schema="gateway")
    op.drop_index(op.f("ix_audit_entries_time"), table_name="audit_entries", schema="gateway")
    op.drop_index(op.f("ix_audit_entries_project"), table_name="audit_entries", schema="gateway")
    op.drop_index(op.f("ix_audit_entries_principal"), table_name="audit_entries", schema="gateway")
    op.drop_table("audit_entries", schema="gateway")
