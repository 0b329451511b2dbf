"""claim bindings: the cluster and requests of each bound claim, kept by the database

Placement sums the requests of the claims bound to each cluster while it holds the placement
lock. Reading them out of every claim's JSON cost 26-29 ms a placement at 10,000 claims (264-294
s of PostgreSQL while 10,000 deployments converged, one placement at a time). This table holds
just those figures, one narrow row per claim that is bound and not being deleted, with typed
columns and an index by cluster and bind time; summing it is a few milliseconds.

Triggers on ``cluster_claims`` keep it, in the transaction of the write that changes a claim, so
no code path (a binding, a spec change, a delete, a removed finalizer, a replica of another
version) can leave it behind. An update that changes none of the four figures (a condition, a
placement reason) does not fire them.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# What a claim row contributes: nothing unless it is bound and not being deleted. The casts run
# in the trigger, not in an index expression, so text -> timestamptz (not immutable) is allowed;
# protobuf's JSON always writes timestamps with their offset ("Z").
_COLUMNS = "claim, cluster, cpu_millis, memory_bytes, bind_time"


def _values(row: str) -> str:
    return (
        f"{row}.uid, {row}.status ->> 'cluster',"
        f" coalesce(({row}.spec -> 'requirements' ->> 'cpu_millis')::bigint, 0),"
        f" coalesce(({row}.spec -> 'requirements' ->> 'memory_bytes')::bigint, 0),"
        f" ({row}.status ->> 'bind_time')::timestamptz"
    )


def _bound(row: str) -> str:
    return f"{row}.delete_time IS NULL AND coalesce({row}.status ->> 'cluster', '') <> ''"


_SYNC = f"""
CREATE FUNCTION clusters.sync_claim_binding() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM clusters.claim_bindings WHERE claim = OLD.uid;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF {_bound("NEW")} THEN
            INSERT INTO clusters.claim_bindings ({_COLUMNS}) VALUES ({_values("NEW")});
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""

_CHANGED = (
    "OLD.status -> 'cluster' IS DISTINCT FROM NEW.status -> 'cluster'"
    " OR OLD.status -> 'bind_time' IS DISTINCT FROM NEW.status -> 'bind_time'"
    " OR OLD.spec -> 'requirements' IS DISTINCT FROM NEW.spec -> 'requirements'"
    " OR OLD.delete_time IS DISTINCT FROM NEW.delete_time"
)


def upgrade() -> None:
    op.create_table(
        "claim_bindings",
        sa.Column("claim", sa.Uuid(), nullable=False),
        sa.Column("cluster", sa.Text(), nullable=False),
        sa.Column("cpu_millis", sa.BigInteger(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("bind_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("claim", name=op.f("pk_claim_bindings")),
        schema="clusters",
    )
    op.create_index(
        "ix_claim_bindings_cluster_bind_time", "claim_bindings", ["cluster", "bind_time"], schema="clusters"
    )
    op.execute(_SYNC)
    op.execute(
        "CREATE TRIGGER claim_binding_inserted AFTER INSERT ON clusters.cluster_claims"
        " FOR EACH ROW EXECUTE FUNCTION clusters.sync_claim_binding()"
    )
    op.execute(
        "CREATE TRIGGER claim_binding_updated AFTER UPDATE ON clusters.cluster_claims"
        f" FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION clusters.sync_claim_binding()"
    )
    op.execute(
        "CREATE TRIGGER claim_binding_deleted AFTER DELETE ON clusters.cluster_claims"
        " FOR EACH ROW EXECUTE FUNCTION clusters.sync_claim_binding()"
    )
    # The claims bound before this revision.
    op.execute(
        f"INSERT INTO clusters.claim_bindings ({_COLUMNS})"
        f" SELECT {_values('claims')} FROM clusters.cluster_claims AS claims WHERE {_bound('claims')}"
    )


def downgrade() -> None:
    for trigger in ("claim_binding_inserted", "claim_binding_updated", "claim_binding_deleted"):
        op.execute(f"DROP TRIGGER {trigger} ON clusters.cluster_claims")
    op.execute("DROP FUNCTION clusters.sync_claim_binding()")
    op.drop_index("ix_claim_bindings_cluster_bind_time", table_name="claim_bindings", schema="clusters")
    op.drop_table("claim_bindings", schema="clusters")
