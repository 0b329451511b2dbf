"""deployments by application: an index on ``spec ->> 'application'``

Every change event of an application or of one of its builds asks which deployments name the
application (``spec.application = "A"`` under its project). Without an index each of those read
every deployment of the project: 10,000 of them for every application updated or build
reported in a project that size.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deployments_spec_application", "deployments", [sa.text("(spec ->> 'application')")],
                    unique=False, schema="delivery")


def downgrade() -> None:
    op.drop_index("ix_deployments_spec_application", table_name="deployments", schema="delivery")
