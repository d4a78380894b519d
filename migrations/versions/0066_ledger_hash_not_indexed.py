"""ledger hashes not indexed: consent_events' unique constraint on hash goes

Revision ID: 0066
Revises: 0065

Every ledger event's hash is a SHA-256: a unique index on it takes each new event at a random place, so an
append touches a random leaf page of an index as large as the ledger's own busiest indexes (328 MB at 2.6
million events, the largest index of the bench database) instead of the last page of one in time or id
order. It was a sixth of a consent-basis import's cost at a million contacts (bench/audience.py: 9,069-10,212
contacts/s with it, 11,081-11,574 without). It guarded nothing the chain needs: the ledger head's lock keeps
the chain from forking, and two events of a fork differ in content, so their hashes differ and the constraint
would have let both in; `flask consent verify` is what proves every link. No query looks an event up by its
hash alone any more (the verify checkpoint takes the event id from the ledger head; the API's consent cursor
is looked up within one contact's events). On SQLite the table is rebuilt without the constraint, and its
counter triggers (migration 0060) are made again.
"""

import os
import runpy

from alembic import op

revision = "0066"
down_revision = "0065"
branch_labels = None
depends_on = None

_CAMPAIGN = (
    "CREATE INDEX IF NOT EXISTS ix_consent_events_campaign ON consent_events "
    "((details ->> 'campaign')) WHERE (details ->> 'campaign') IS NOT NULL"
)


def _sqlite_triggers_of_0060() -> list[str]:
    """0060's counter triggers on consent_events (its text is frozen), which a rebuild of the table drops."""
    frozen = runpy.run_path(os.path.join(os.path.dirname(__file__), "0060_consent_counters.py"))
    return frozen["_sqlite_events"]()


def _rebuild_sqlite(change) -> None:
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS consent_event_counts_{event}")
    op.execute("DROP INDEX IF EXISTS ix_consent_events_campaign")  # an expression index a rebuild can't copy
    with op.batch_alter_table("consent_events", recreate="always") as batch_op:
        change(batch_op)
    op.execute(_CAMPAIGN)
    for statement in _sqlite_triggers_of_0060():
        op.execute(statement)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE consent_events DROP CONSTRAINT IF EXISTS uq_consent_events_hash")
    else:
        _rebuild_sqlite(lambda batch_op: batch_op.drop_constraint("uq_consent_events_hash", type_="unique"))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint("uq_consent_events_hash", "consent_events", ["hash"])
    else:
        _rebuild_sqlite(
            lambda batch_op: batch_op.create_unique_constraint("uq_consent_events_hash", ["hash"])
        )
