"""record systems' API: tokens, receipts, the feed's position of each submission

- api_token (a record system's bearer token, stored as its SHA-256) and api_token_clinic
  (the clinics it reads);
- api_receipt: a record system marked a submission as received (shown in its timeline);
- submission.feed_updated_at: when the API last offered it to its clinic (sent, or moved
  there), set to submitted_at for the rows already there, with the index the feed reads
  along (clinic, time, public id).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=32), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('api_token_clinic',
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_id', 'clinic_id')
    )
    op.create_table('api_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submission_id', 'token_id')
    )
    with op.batch_alter_table('api_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_receipt_submission_id'), ['submission_id'], unique=False)

    # Added in place, never by rebuilding the table: on SQLite a rebuild drops and re-creates
    # `submission`, which with foreign keys on would clear every draft's link to its
    # submission (ON DELETE SET NULL) or fail. NOT NULL with a placeholder default, then
    # each row gets its own time.
    op.add_column('submission', sa.Column(
        'feed_updated_at', sa.DateTime(), nullable=False, server_default='1970-01-01 00:00:00'
    ))
    op.execute("UPDATE submission SET feed_updated_at = submitted_at")
    op.create_index('ix_submission_clinic_feed', 'submission', ['clinic_id', 'feed_updated_at', 'public_id'], unique=False)


def downgrade():
    op.drop_index('ix_submission_clinic_feed', table_name='submission')
    op.drop_column('submission', 'feed_updated_at')  # in place (SQLite 3.35+), see upgrade

    with op.batch_alter_table('api_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_receipt_submission_id'))

    op.drop_table('api_receipt')
    op.drop_table('api_token_clinic')
    op.drop_table('api_token')
