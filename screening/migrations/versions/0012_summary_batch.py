"""summary_batch: the queue's batch PDFs made in the background, until they expire

A batch of more than a few clinician summaries takes longer than one request may, so a
thread makes it and keeps its progress and the PDF here, where any worker can serve them
(screening/staff/batches.py). Rows are deleted when they expire.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('summary_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('submission_ids', sa.JSON(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['requested_by_id'], ['staff_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('summary_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_summary_batch_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_summary_batch_requested_by_id'), ['requested_by_id'], unique=False)



def downgrade():
    with op.batch_alter_table('summary_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_summary_batch_requested_by_id'))
        batch_op.drop_index(batch_op.f('ix_summary_batch_expires_at'))

    op.drop_table('summary_batch')
