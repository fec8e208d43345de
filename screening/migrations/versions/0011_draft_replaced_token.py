"""draft.replaced_token_hash: an old resume link says it was replaced

A draft resumed with its code gets a new token; the hash of the one before is kept so
that the old link can say the form went on on another device instead of "expired".

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replaced_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_draft_replaced_token_hash'), ['replaced_token_hash'], unique=False)


def downgrade():
    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draft_replaced_token_hash'))
        batch_op.drop_column('replaced_token_hash')
