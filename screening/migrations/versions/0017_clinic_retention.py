"""clinic.retention_days: a clinic's own retention period for finished submissions

None keeps the app's SUBMISSION_RETENTION_DAYS (screening/retention.py).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('clinic', sa.Column('retention_days', sa.Integer(), nullable=True))


def downgrade():
    # In place (SQLite 3.35+): rebuilding the table would fire its foreign keys' actions.
    op.drop_column('clinic', 'retention_days')
