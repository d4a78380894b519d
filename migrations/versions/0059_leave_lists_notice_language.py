"""leave_lists version 3 (mailer/subscriptions/sql/leave_lists_v3.sql): a one-click unsubscribe records the
privacy notice in force in the contact's language

Revision ID: 0059
Revises: 0058

Privacy notices are a series per language ("privacy-notice", "privacy-notice:<code>"); version 2 recorded the
English notice for everybody. Same arguments and answers as version 2. Downgrading restores version 2.
"""

from importlib.resources import files

from alembic import op

revision = "0059"
down_revision = "0058"
branch_labels = None
depends_on = None


def _source(name: str) -> str:
    return files("mailer.subscriptions").joinpath(f"sql/{name}.sql").read_text()


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_source("leave_lists_v3"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_source("leave_lists_v2"))
