"""submission.digest: an HMAC of each submission's content, checked whenever staff read it

Filled here for the submissions already stored (screening/integrity.py makes it from the
decrypted content and the key set's index key, so this needs the app's keys, as 0013).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

"""
import json
from datetime import UTC

from alembic import op
import sqlalchemy as sa

from screening import crypto, integrity


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

BATCH = 500
ENCRYPTED = ("answers", "personal", "fired_rules", "questions", "result")
TIMES = ("started_at", "submitted_at")


def upgrade():
    op.add_column('submission', sa.Column('digest', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    ring = crypto.key_store().ring()
    types = {name: sa.JSON if name in ENCRYPTED else sa.DateTime if name in TIMES else sa.String
             for name in integrity.FIELDS}
    types.update(urgency=sa.Integer, support_score=sa.Integer, peg_score=sa.Float,
                 blocking_contraindication=sa.Boolean)
    table = sa.table("submission", sa.column("id", sa.Integer), sa.column("digest", sa.String),
                     *(sa.column(name, kind) for name, kind in types.items()))
    ids = bind.execute(sa.select(table.c.id).order_by(table.c.id)).scalars().all()
    statement = table.update().where(table.c.id == sa.bindparam("_id")).values(digest=sa.bindparam("_digest"))
    for start in range(0, len(ids), BATCH):
        rows = bind.execute(sa.select(table).where(table.c.id.in_(ids[start:start + BATCH]))).all()
        values = []
        for row in rows:
            fields = {name: getattr(row, name) for name in integrity.FIELDS}
            for name in ENCRYPTED:
                fields[name] = json.loads(crypto.unseal(f"submission.{name}", fields[name], ring))
            for name in TIMES:
                fields[name] = fields[name].replace(tzinfo=UTC)
            values.append({"_id": row.id, "_digest": integrity.digest_of(fields, ring)})
        if values:
            bind.execute(statement, values)


def downgrade():
    # In place (SQLite 3.35+): rebuilding the table would fire its foreign keys' actions.
    op.drop_column('submission', 'digest')
