"""bounce mailbox: mailbox_messages, one row per message the IMAP poller read (process once, then move)

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mailbox_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mailbox", sa.String(length=300), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_id_hash", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("moved_to", sa.String(length=200), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
        sa.Column("moved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox_messages")),
        sa.UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_mailbox_messages_uid"),
    )
    with op.batch_alter_table("mailbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mailbox_messages_mailbox_message_id", ["mailbox", "message_id_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mailbox_messages_processed_at"), ["processed_at"], unique=False)


def downgrade():
    with op.batch_alter_table("mailbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailbox_messages_processed_at"))
        batch_op.drop_index("ix_mailbox_messages_mailbox_message_id")
    op.drop_table("mailbox_messages")
