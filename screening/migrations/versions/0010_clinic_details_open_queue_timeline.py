"""clinic details, the open-work queue, the submission timeline

- clinic: phone, address, opening days and hours, a note for patients, a time zone;
- submission.is_open (false once closed or not proceeding) and the indexes of the queue
  that opens on open work, within a clinic and per assignee;
- submission_change.reason (a clinic move states why).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clinic', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('address', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('open_days', sa.String(length=7), nullable=False, server_default='01234'))
        batch_op.add_column(sa.Column('opens_at', sa.String(length=5), nullable=False, server_default='08:00'))
        batch_op.add_column(sa.Column('closes_at', sa.String(length=5), nullable=False, server_default='17:00'))
        batch_op.add_column(sa.Column('patient_note', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))

    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_open', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute(
        "UPDATE submission SET is_open = (status NOT IN ('closed', 'not_proceeding'))"
    )
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index('ix_submission_assigned_to_id')
        batch_op.create_index('ix_submission_open_queue', ['is_open', 'urgency', 'submitted_at'], unique=False)
        batch_op.create_index('ix_submission_clinic_open_queue', ['clinic_id', 'is_open', 'urgency', 'submitted_at'], unique=False)
        batch_op.create_index('ix_submission_assignee_queue', ['assigned_to_id', 'is_open', 'urgency', 'submitted_at'], unique=False)
        batch_op.create_index('ix_submission_assignee_status', ['assigned_to_id', 'status', 'clinic_id'], unique=False)

    with op.batch_alter_table('submission_change', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('submission_change', schema=None) as batch_op:
        batch_op.drop_column('reason')

    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index('ix_submission_assignee_status')
        batch_op.drop_index('ix_submission_assignee_queue')
        batch_op.drop_index('ix_submission_clinic_open_queue')
        batch_op.drop_index('ix_submission_open_queue')
        batch_op.create_index('ix_submission_assigned_to_id', ['assigned_to_id'], unique=False)
        batch_op.drop_column('is_open')

    with op.batch_alter_table('clinic', schema=None) as batch_op:
        for name in ('timezone', 'patient_note', 'closes_at', 'opens_at', 'open_days', 'address', 'phone'):
            batch_op.drop_column(name)
