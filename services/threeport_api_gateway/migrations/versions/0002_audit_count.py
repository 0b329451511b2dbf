"""gateway schema: audit entries carry a count (identical denials within a minute are one entry)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "audit_entries",
        sa.Column("count", sa.BigInteger(), server_default="1", nullable=False),
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_column("audit_entries", "count", schema="gateway")
