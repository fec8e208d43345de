"""audit_head: the head of the audit chain, so ids are never reused and a cut tail shows

One row (id 1) with the last row's id, hash and time, moved forward in the same
transaction as each appended audit row (screening/audit.py). The next row follows it,
so after the newest rows are deleted the next one leaves a gap, and `audit verify`
reports a table that ends before its head. Triggers let it move forward only.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# Copied from screening.audit.HEAD_TRIGGER_DDL / HEAD_DROP_DDL when this migration was
# written (a migration must not change when the module does). No statement contains ":".
TRIGGER_DDL = {
    "sqlite": [
        "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
        "WHEN NEW.last_id <= OLD.last_id BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END",
        "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
        "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_head_forward() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP = 'UPDATE' AND NEW.last_id > OLD.last_id THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION 'audit_head only moves forward' USING ERRCODE = 'insufficient_privilege'; "
        "END $$",
        "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
        "FOR EACH ROW EXECUTE FUNCTION audit_head_forward()",
        "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward()",
    ],
}
DROP_DDL = {"sqlite": [], "postgresql": ["DROP FUNCTION IF EXISTS audit_head_forward()"]}


def upgrade():
    op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('last_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    bind = op.get_bind()
    # The trail so far ends at its last row.
    op.execute(
        "INSERT INTO audit_head (id, last_id, last_hash, last_at) "
        "SELECT 1, id, row_hash, at FROM audit_event ORDER BY id DESC LIMIT 1"
    )
    for statement in TRIGGER_DDL.get(bind.dialect.name, []):
        op.execute(statement)


def downgrade():
    op.drop_table('audit_head')  # drops its triggers too
    for statement in DROP_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)
