"""leave_lists version 4 and ledger_append version 2: a group of one-click unsubscribes writes each table once

Revision ID: 0062
Revises: 0061

The statement triggers keeping counters (0031's list counts, 0060's consent counters) run once per
statement. leave_lists version 3 ended subscriptions one UPDATE per person and ledger_append version 1 wrote
events and consent states one row per statement, so each one-click unsubscribe ran four trigger bodies
(each a transition table, a query and a counter row) and the endpoints bench's unsubscribe rate fell by
7–15 %. Version 4 ends the group's subscriptions with one UPDATE and looks each language's privacy notice up
once; ledger_append version 2 inserts the group's events and states with one statement each, as the
application's ledger.append_events does. Same answers, rows, hashes and counts. Downgrading restores
leave_lists version 3 and ledger_append version 1.
"""

from importlib.resources import files

from alembic import op

revision = "0062"
down_revision = "0061"
branch_labels = None
depends_on = None


def _source(package: str, name: str) -> str:
    return files(package).joinpath(f"sql/{name}.sql").read_text()


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_source("mailer.consent", "ledger_append_v2"))
        op.execute(_source("mailer.subscriptions", "leave_lists_v4"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_source("mailer.subscriptions", "leave_lists_v3"))
        op.execute(_source("mailer.consent", "ledger_append_v1"))
