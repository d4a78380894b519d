"""erasure register: which contact was erased when (public id, keyed address hash), for re-applying erasures
after restoring a backup

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "erasure_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_public_id", sa.String(length=32), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_register")),
    )
    with op.batch_alter_table("erasure_register", schema=None) as batch_op:
        batch_op.create_index("ix_erasure_register_erased_at", ["erased_at"], unique=False)


def downgrade():
    with op.batch_alter_table("erasure_register", schema=None) as batch_op:
        batch_op.drop_index("ix_erasure_register_erased_at")
    op.drop_table("erasure_register")
