"""form wordings: a form's words per language, each its own notice (issue 16)

forms.wording_language (the language of the wording in the form's own row), forms.languages (the languages it
is published in) and form_wordings (the other languages' words, each with its notice version). An existing
form keeps its behaviour in its own language: a fixed language stays; one that followed the browser keeps its
wording in English until other languages are written.

Revision ID: 0041
Revises: 0040
"""

import sqlalchemy as sa
from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("wording_language", sa.String(length=10), nullable=False, server_default="en")
        )
        batch_op.add_column(sa.Column("languages", sa.JSON(), nullable=True))
    forms = sa.table(
        "forms",
        sa.column("id", sa.Integer()),
        sa.column("language", sa.String()),
        sa.column("wording_language", sa.String()),
        sa.column("languages", sa.JSON()),
    )
    bind = op.get_bind()
    for form_id, language in bind.execute(sa.select(forms.c.id, forms.c.language)).all():
        own = language or "en"
        bind.execute(
            forms.update().where(forms.c.id == form_id).values(wording_language=own, languages=[own])
        )
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.alter_column("languages", existing_type=sa.JSON(), nullable=False)
    op.create_table(
        "form_wordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("button_label", sa.String(length=60), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("field_labels", sa.JSON(), nullable=False),
        sa.Column("privacy_text", sa.Text(), nullable=False),
        sa.Column("success_message", sa.Text(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_form_wordings_form_id_forms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_form_wordings_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_wordings")),
        sa.UniqueConstraint("form_id", "language", name="uq_form_wordings_form_language"),
    )
    with op.batch_alter_table("form_wordings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_wordings_form_id"), ["form_id"], unique=False)


def downgrade():
    with op.batch_alter_table("form_wordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_wordings_form_id"))
    op.drop_table("form_wordings")
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_column("languages")
        batch_op.drop_column("wording_language")
