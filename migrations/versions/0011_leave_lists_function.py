"""one-click unsubscribes: leave_lists(), a PostgreSQL function that applies a group of them in one statement

Revision ID: 0011
Revises: 0010

The group commit of one-list unsubscribes (mailer/subscriptions/leaving.py) on PostgreSQL: for each job,
find the contact and the list, end the subscription, lock and read the list purpose's consent state and decide
whether a "withdrawn" event is due (the rule of withdrawal.withdraws); then lock the ledger head and append
the events, chained, with their consent states. One statement and the commit make one round trip, and the
ledger head lock is held only inside the database. SQLite keeps the Python path (leaving.leave_lists).

The function's source is mailer/subscriptions/sql/leave_lists_v1.sql, beside the Python rule; this revision
always creates version 1 (a later version is a new file and a new migration).
"""

from importlib.resources import files

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(files("mailer.subscriptions").joinpath("sql/leave_lists_v1.sql").read_text())


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS leave_lists(json, text, timestamp)")
