"""bulk jobs: options (consent basis, statement, reason) and frozen members of an "all matching" selection

Revision ID: 0034
Revises: 0033
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("bulk_jobs") as batch:
        batch.add_column(sa.Column("options", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    op.create_table(
        "bulk_job_members",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["bulk_jobs.id"],
            name=op.f("fk_bulk_job_members_job_id_bulk_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_bulk_job_members_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "contact_id", name=op.f("pk_bulk_job_members")),
    )


def downgrade():
    op.drop_table("bulk_job_members")
    with op.batch_alter_table("bulk_jobs") as batch:
        batch.drop_column("options")
