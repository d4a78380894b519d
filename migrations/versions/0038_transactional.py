"""transactional: templates and the sent log (with idempotency keys)

Revision ID: 0038
Revises: 0037
"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tx_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_format", sa.String(length=10), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=False),
        sa.Column("relay_id", sa.Integer(), nullable=True),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["relay_id"], ["relays.id"], name=op.f("fk_tx_templates_relay_id_relays"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tx_templates")),
        sa.UniqueConstraint("key", name=op.f("uq_tx_templates_key")),
        sa.UniqueConstraint("public_id", name=op.f("uq_tx_templates_public_id")),
    )
    op.create_table(
        "tx_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("smtp_code", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_scope", sa.String(length=40), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_tx_messages_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_tx_messages_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"], ["tx_templates.id"], name=op.f("fk_tx_messages_template_id_tx_templates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tx_messages")),
        sa.UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_tx_messages_idempotency"),
        sa.UniqueConstraint("public_id", name=op.f("uq_tx_messages_public_id")),
    )
    op.create_index("ix_tx_messages_created_at", "tx_messages", ["created_at"])
    op.create_index(op.f("ix_tx_messages_contact_id"), "tx_messages", ["contact_id"])
    op.create_index(op.f("ix_tx_messages_email_hash"), "tx_messages", ["email_hash"])
    op.create_index(op.f("ix_tx_messages_status"), "tx_messages", ["status"])
    op.create_index(op.f("ix_tx_messages_template_id"), "tx_messages", ["template_id"])


def downgrade():
    op.drop_table("tx_messages")
    op.drop_table("tx_templates")
