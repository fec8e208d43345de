"""Store the scorer's result with each submission.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # No submission exists without a result once this lands; the server defaults only
    # let the columns be added to a table that already has rows (they are then rescored
    # with `flask --app screening rules rescore`).
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=False, server_default="UNSCORED"))
        batch_op.add_column(sa.Column("care_level", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("blocking_contraindication", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("support_score", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("peg_score", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("fired_rules", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("questions", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("ruleset_version", sa.String(length=32), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("result", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.create_index(batch_op.f("ix_submission_outcome"), ["outcome"], unique=False)


def downgrade():
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_outcome"))
        for column in ("result", "ruleset_version", "questions", "fired_rules", "peg_score",
                       "support_score", "blocking_contraindication", "care_level", "outcome"):
            batch_op.drop_column(column)
