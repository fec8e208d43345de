"""encrypt health data at rest; blind indexes replace the plain search columns

Encrypts, with the app's data keys (screening/crypto.py), every value of: draft answers
and contact details, submission answers, contact details and result, staff notes,
clinic-move reasons, batch PDFs and staff TOTP seeds. The plain search columns of
``submission`` (a lower-case name and phone number) are dropped; ``search_token`` holds
keyed digests instead (screening/search_index.py).

JSON columns keep their type (they hold the ciphertext as a JSON string), so no table is
rebuilt: on SQLite a rebuild of ``submission`` or ``staff_user`` would fire their
foreign keys' ON DELETE actions. The TOTP columns need more room than 64 characters, so
each is replaced by a new column (added, filled, the old one dropped, the new one
renamed), which both engines do in place.

Downgrade decrypts everything again and restores the plain search columns. Both
directions need the key set the app uses (run them with ``flask db upgrade`` /
``downgrade``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

"""
import json

from alembic import op
import sqlalchemy as sa

from screening import crypto, search_index


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

BATCH = 500

#: Encrypted columns whose stored type does not change: table -> {column: kind}.
COLUMNS = {
    "draft": {"answers": "json", "personal": "json"},
    "submission": {
        "answers": "json",
        "personal": "json",
        "fired_rules": "json",
        "questions": "json",
        "result": "json",
    },
    "submission_note": {"text": "text"},
    "submission_change": {"reason": "text"},
    "summary_batch": {"pdf": "bytes"},
}
TOTP = ("totp_secret", "totp_pending")
TYPES = {"json": sa.JSON, "text": sa.Text, "bytes": sa.LargeBinary}


def _encrypt(kind, label, value, ring):
    if value is None:
        return None
    if kind == "json":
        return crypto.seal(label, crypto.canonical_json(value), ring)
    if kind == "text":
        return crypto.seal(label, value.encode(), ring)
    return crypto.seal_binary(label, bytes(value), ring)


def _decrypt(kind, label, value, ring):
    if value is None:
        return None
    if kind == "json":
        return json.loads(crypto.unseal(label, value, ring))
    if kind == "text":
        return crypto.unseal(label, value, ring).decode()
    return crypto.unseal_binary(label, value, ring)


def _convert(bind, name, columns, change, ring, extra=None):
    """Rewrite every row of table ``name``: ``change(kind, label, value, ring)`` per column.

    :param extra: called with (bind, rows, new values) for each batch.
    """
    table = sa.table(name, sa.column("id", sa.Integer), *(sa.column(c, TYPES[k]) for c, k in columns.items()))
    ids = bind.execute(sa.select(table.c.id).order_by(table.c.id)).scalars().all()
    statement = (
        table.update()
        .where(table.c.id == sa.bindparam("_id"))
        .values({c: sa.bindparam(f"_{c}") for c in columns})
    )
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = bind.execute(sa.select(table).where(table.c.id.in_(chunk))).all()
        values = [
            {"_id": row.id, **{f"_{c}": change(k, f"{name}.{c}", getattr(row, c), ring) for c, k in columns.items()}}
            for row in rows
        ]
        if values:
            bind.execute(statement, values)
        if extra:
            extra(bind, rows, values)  # our callback named "extra", not Django's  # nosec B610


def _swap_totp(bind, length, change, ring):
    """Replace each TOTP column by one of ``length`` holding ``change`` of its values."""
    for column in TOTP:
        op.add_column("staff_user", sa.Column(f"{column}_new", sa.String(length), nullable=True))
    table = sa.table(
        "staff_user",
        sa.column("id", sa.Integer),
        *(sa.column(c, sa.String) for c in TOTP),
        *(sa.column(f"{c}_new", sa.String) for c in TOTP),
    )
    for row in bind.execute(sa.select(table)).all():
        bind.execute(
            table.update()
            .where(table.c.id == row.id)
            .values({f"{c}_new": change("text", f"staff_user.{c}", getattr(row, c), ring) for c in TOTP})
        )
    for column in TOTP:
        op.drop_column("staff_user", column)
        op.alter_column("staff_user", f"{column}_new", new_column_name=column)


def upgrade():
    bind = op.get_bind()
    ring = crypto.key_store().ring()
    token_table = op.create_table(
        'search_token',
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=32), nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('submission_id', 'digest'),
    )
    op.create_index('ix_search_token_lookup', 'search_token', ['digest', 'clinic_id', 'submission_id'], unique=False)

    clinics = dict(bind.execute(sa.text("SELECT id, clinic_id FROM submission")).all())

    def index(bind, rows, values):
        tokens = [
            token
            for row in rows
            for token in search_index.token_rows(row.id, clinics[row.id], row.personal or {}, ring)
        ]
        if tokens:
            bind.execute(token_table.insert(), tokens)

    for name, columns in COLUMNS.items():
        _convert(bind, name, columns, _encrypt, ring, index if name == "submission" else None)
    _swap_totp(bind, 255, _encrypt, ring)

    for name in ("ix_submission_clinic_search_name", "ix_submission_clinic_search_last",
                 "ix_submission_clinic_search_phone", "ix_submission_search_name",
                 "ix_submission_search_last", "ix_submission_search_phone"):
        op.drop_index(name, table_name="submission")
    for column in ("search_name", "search_last", "search_phone"):
        op.drop_column("submission", column)


def downgrade():
    bind = op.get_bind()
    ring = crypto.key_store().ring()
    op.add_column("submission", sa.Column("search_name", sa.String(length=100), nullable=False, server_default=""))
    op.add_column("submission", sa.Column("search_last", sa.String(length=100), nullable=False, server_default=""))
    op.add_column("submission", sa.Column("search_phone", sa.String(length=30), nullable=False, server_default=""))
    plain = sa.table(
        "submission",
        sa.column("id", sa.Integer),
        sa.column("search_name", sa.String),
        sa.column("search_last", sa.String),
        sa.column("search_phone", sa.String),
    )

    statement = (
        plain.update()
        .where(plain.c.id == sa.bindparam("_id"))
        .values(
            search_name=sa.bindparam("_name"),
            search_last=sa.bindparam("_last"),
            search_phone=sa.bindparam("_phone"),
        )
    )

    def unindex(bind, rows, values):
        # The search keys of revision 0005, from the decrypted contact details.
        keys = []
        for value in values:
            personal = value["_personal"] or {}
            name = " ".join((personal.get("full_name") or "").lower().split())[:100]
            phone = "".join(ch for ch in personal.get("phone") or "" if ch.isdigit())[::-1][:30]
            keys.append({"_id": value["_id"], "_name": name, "_last": name.rsplit(" ", 1)[-1], "_phone": phone})
        if keys:
            bind.execute(statement, keys)

    for name, columns in COLUMNS.items():
        _convert(bind, name, columns, _decrypt, ring, unindex if name == "submission" else None)
    _swap_totp(bind, 64, _decrypt, ring)

    op.create_index("ix_submission_search_name", "submission", ["search_name"], unique=False)
    op.create_index("ix_submission_search_last", "submission", ["search_last"], unique=False)
    op.create_index("ix_submission_search_phone", "submission", ["search_phone"], unique=False)
    op.create_index("ix_submission_clinic_search_name", "submission", ["clinic_id", "search_name"], unique=False)
    op.create_index("ix_submission_clinic_search_last", "submission", ["clinic_id", "search_last"], unique=False)
    op.create_index("ix_submission_clinic_search_phone", "submission", ["clinic_id", "search_phone"], unique=False)
    op.drop_index("ix_search_token_lookup", table_name="search_token")
    op.drop_table("search_token")
