"""contact search by part of an address or name: pg_trgm GIN indexes on PostgreSQL (plain indexes when the
extension cannot be created), plain indexes on SQLite

Revision ID: 0021
Revises: 0020
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
COLUMNS = (("ix_contacts_email_search", "email"), ("ix_contacts_name_search", "name"))


def _trigrams_available(bind) -> bool:
    """Create pg_trgm if allowed (a superuser or a trusted extension); False when the role may not."""
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        return True
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        log.warning(
            "pg_trgm could not be created (ask a superuser: CREATE EXTENSION pg_trgm, then re-create "
            "ix_contacts_email_search and ix_contacts_name_search): searching by part of an address or name "
            "works, but scans the contacts"
        )
        return False
    return True


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _trigrams_available(bind):
        for name, column in COLUMNS:
            op.create_index(
                name,
                "contacts",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
        return
    for name, column in COLUMNS:
        op.create_index(name, "contacts", [column])


def downgrade():
    for name, _ in COLUMNS:
        op.drop_index(name, table_name="contacts")
