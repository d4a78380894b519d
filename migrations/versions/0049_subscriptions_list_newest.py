"""a list's subscribers newest first: index ix_subscriptions_list_newest on subscriptions (list_id, id)

Revision ID: 0049
Revises: 0048

The list page shows a list's newest 50 subscriptions (keyset pages by id). With only ix_subscriptions_list_id,
PostgreSQL read every subscription of the list and sorted them: 1.15 s for a list of 1,000,000. With
(list_id, id) it reads the page's rows in order. Built CONCURRENTLY on PostgreSQL so a live list keeps taking
sign-ups.
"""

from alembic import op

revision = "0049"
down_revision = "0048"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.create_index("ix_subscriptions_list_newest", "subscriptions", ["list_id", "id"])
        return
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_subscriptions_list_newest "
            "ON subscriptions (list_id, id)"
        )


def downgrade():
    op.drop_index("ix_subscriptions_list_newest", table_name="subscriptions")
