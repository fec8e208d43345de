"""Append-only, hash-chained audit trail.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Copied from screening.audit.TRIGGER_DDL / DROP_DDL when this migration was written
# (a migration must not change when the module does). No statement contains ":".
TRIGGER_DDL = {
    "sqlite": [
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
        "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'audit_event is append-only' USING ERRCODE = 'insufficient_privilege'; "
        "END $$",
        "CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
    ],
}
DROP_DDL = {"sqlite": [], "postgresql": ["DROP FUNCTION IF EXISTS audit_event_append_only()"]}


def upgrade():
    op.create_table(
        "audit_event",
        # No sequence: screening.audit.record assigns id = last id + 1 (the chain position).
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"], unique=False)
    op.create_index("ix_audit_event_submission_id", "audit_event", ["submission_id"], unique=False)
    op.create_index("ix_audit_event_actor_id_at", "audit_event", ["actor_id", "at"], unique=False)
    for statement in TRIGGER_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    op.drop_table("audit_event")  # drops its triggers and indexes too
    for statement in DROP_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)
