"""search indexes within clinics

Staff search within their clinics: (clinic_id, search_name / search_last / search_phone),
so a name search in one clinic reads that clinic's matches only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index('ix_submission_clinic_search_name', ['clinic_id', 'search_name'], unique=False)
        batch_op.create_index('ix_submission_clinic_search_last', ['clinic_id', 'search_last'], unique=False)
        batch_op.create_index('ix_submission_clinic_search_phone', ['clinic_id', 'search_phone'], unique=False)


def downgrade():
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index('ix_submission_clinic_search_phone')
        batch_op.drop_index('ix_submission_clinic_search_last')
        batch_op.drop_index('ix_submission_clinic_search_name')
