"""ledger chain in SQL beside the Python one: ledger_append() (mailer/consent/sql/ledger_append_v1.sql) and
leave_lists version 2 (mailer/subscriptions/sql/leave_lists_v2.sql), which appends through it

Revision ID: 0014
Revises: 0013

leave_lists version 1 chained its events itself; version 2 applies the same withdrawal rule and hands the
events to ledger_append, so the database spells the chain once, next to mailer/consent/chain.py. Same
arguments and answers as version 1. Downgrading restores version 1.
"""

from importlib.resources import files

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _source(package: str, name: str) -> str:
    return files(package).joinpath(f"sql/{name}.sql").read_text()


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_source("mailer.consent", "ledger_append_v1"))
        op.execute(_source("mailer.subscriptions", "leave_lists_v2"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_source("mailer.subscriptions", "leave_lists_v1"))
        op.execute("DROP FUNCTION IF EXISTS ledger_append(json)")
        op.execute("DROP FUNCTION IF EXISTS ledger_event_hash(text[], integer, integer, text, text, integer)")
        op.execute("DROP FUNCTION IF EXISTS ledger_pii_digest(text, text, text)")
