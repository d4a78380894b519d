"""privacy: data-subject requests, contact fields with encrypted values, privacy settings and recipients

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "data_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("data_categories", sa.Text(), nullable=False),
        sa.Column("country", sa.String(length=80), nullable=False),
        sa.Column("outside_eea", sa.Boolean(), nullable=False),
        sa.Column("safeguard", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=False),
        sa.Column("notify_changes", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_recipients")),
        sa.UniqueConstraint("public_id", name=op.f("uq_data_recipients_public_id")),
    )
    op.create_table(
        "contact_keys",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("rotated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_keys_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_keys")),
    )
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("subject_hash", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("extended_until", sa.DateTime(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=False),
        sa.Column("person_told_at", sa.DateTime(), nullable=True),
        sa.Column("verification_sent_at", sa.DateTime(), nullable=True),
        sa.Column("identity_verified_at", sa.DateTime(), nullable=True),
        sa.Column("verification_method", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("notifications", sa.JSON(), nullable=False),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("last_reminded_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_privacy_requests_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["handled_by_id"], ["staff_users.id"], name=op.f("fk_privacy_requests_handled_by_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
        sa.UniqueConstraint("public_id", name=op.f("uq_privacy_requests_public_id")),
    )
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_requests_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_privacy_requests_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_privacy_requests_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_privacy_requests_subject_hash"), ["subject_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_privacy_requests_type"), ["type"], unique=False)

    op.create_table(
        "privacy_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("controller_name", sa.String(length=200), nullable=False),
        sa.Column("controller_address", sa.Text(), nullable=False),
        sa.Column("controller_email", sa.String(length=320), nullable=False),
        sa.Column("dpo_name", sa.String(length=200), nullable=False),
        sa.Column("dpo_email", sa.String(length=320), nullable=False),
        sa.Column("authority_name", sa.String(length=200), nullable=False),
        sa.Column("authority_url", sa.String(length=500), nullable=False),
        sa.Column("home_country", sa.String(length=80), nullable=False),
        sa.Column("other_uses", sa.JSON(), nullable=False),
        sa.Column("retention", sa.JSON(), nullable=False),
        sa.Column("repermission_enabled", sa.Boolean(), nullable=False),
        sa.Column("repermission_grace_days", sa.Integer(), nullable=False),
        sa.Column("reminder_days", sa.Integer(), nullable=False),
        sa.Column("automated_decisions", sa.Text(), nullable=False),
        sa.Column("provision_consequences", sa.Text(), nullable=False),
        sa.Column("security_measures", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["staff_users.id"], name=op.f("fk_privacy_settings_updated_by_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_settings")),
    )
    op.create_table(
        "repermission_emails",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_repermission_emails_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_repermission_emails")),
    )
    op.create_table(
        "contact_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("help_text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("quasi_identifier", sa.String(length=20), nullable=False),
        sa.Column("purpose_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["purpose_id"], ["purposes.id"], name=op.f("fk_contact_fields_purpose_id_purposes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_fields")),
        sa.UniqueConstraint("key", name=op.f("uq_contact_fields_key")),
    )
    op.create_table(
        "contact_field_values",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_field_values_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["field_id"], ["contact_fields.id"], name=op.f("fk_contact_field_values_field_id_contact_fields")
        ),
        sa.PrimaryKeyConstraint("contact_id", "field_id", name=op.f("pk_contact_field_values")),
    )


def downgrade():
    op.drop_table("contact_field_values")
    op.drop_table("contact_fields")
    op.drop_table("repermission_emails")
    op.drop_table("privacy_settings")
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_requests_type"))
        batch_op.drop_index(batch_op.f("ix_privacy_requests_subject_hash"))
        batch_op.drop_index(batch_op.f("ix_privacy_requests_status"))
        batch_op.drop_index(batch_op.f("ix_privacy_requests_due_at"))
        batch_op.drop_index(batch_op.f("ix_privacy_requests_contact_id"))

    op.drop_table("privacy_requests")
    op.drop_table("contact_keys")
    op.drop_table("data_recipients")
