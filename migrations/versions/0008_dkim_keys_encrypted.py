"""DKIM private keys encrypted at rest; deliveries indexed by Message-ID (bounce and complaint matching)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

dkim_keys = sa.table(
    "dkim_keys",
    sa.column("id", sa.Integer()),
    sa.column("private_key_pem", sa.Text()),
    sa.column("private_key_encrypted", sa.LargeBinary()),
)


def _convert(source, target, transform):
    """Fill column `target` of every key from `source` through transform(master_keys, value)."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(dkim_keys.c.id, source)).all()
    if not rows:
        return
    # The master keys of sensitive fields (MAILER_DATA_KEYS), read from the app running the migration.
    from mailer.contacts.keys import master_keys

    keys = master_keys()
    for row in rows:
        conn.execute(
            dkim_keys.update().where(dkim_keys.c.id == row[0]).values({target: transform(keys, row[1])})
        )


def upgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_message_id"), ["message_id"], unique=False)

    with op.batch_alter_table("dkim_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=True))
    _convert(
        dkim_keys.c.private_key_pem, "private_key_encrypted", lambda keys, pem: keys.encrypt(pem.encode())
    )
    with op.batch_alter_table("dkim_keys", schema=None) as batch_op:
        batch_op.alter_column("private_key_encrypted", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("private_key_pem")


def downgrade():
    with op.batch_alter_table("dkim_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private_key_pem", sa.Text(), nullable=True))
    _convert(
        dkim_keys.c.private_key_encrypted,
        "private_key_pem",
        lambda keys, token: keys.decrypt(bytes(token)).decode(),
    )
    with op.batch_alter_table("dkim_keys", schema=None) as batch_op:
        batch_op.alter_column("private_key_pem", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("private_key_encrypted")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_message_id"))
