"""coverage counters look a contact up by its id, whatever the planner knows about the tables

Revision ID: 0061
Revises: 0060

0060's triggers keeping list_consent_counts join the changed rows with the other table on contact_id and
filter on status in the same step. Where a table has no statistics yet (a new database, a server without
autovacuum) PostgreSQL's planner then ANDed the status index with the contact's (every confirmed subscription
read for one consent change: 1.4 ms per consent state at 100,000 subscriptions, growing with the table;
the endpoints bench's seeding ran past 15 minutes), and SQLite's chose the status index outright. Each
changed row now looks up the other table's rows of its contact (a primary or unique key's first column) and
filters on status afterwards: 0.12 ms per consent state at 100,000 subscriptions with or without
statistics; a 100,000-row statement costs ~9 % more than 0060's hash join. Same counts, same locking; only
the lookups change.
"""

import importlib.util
import os

from alembic import op

revision = "0061"
down_revision = "0060"
branch_labels = None
depends_on = None

_LOCK_HEAD = "UPDATE ledger_head SET last_event_id = last_event_id WHERE id = 1;"
_EVENTS = ("insert", "delete", "update")


def _previous():
    """0060's module, whose trigger text the downgrade puts back."""
    path = os.path.join(os.path.dirname(__file__), "0060_consent_counters.py")
    spec = importlib.util.spec_from_file_location("migration_0060", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _coverage_body(rows: str, sign: str, side: str) -> str:
    """Deltas for the pairs that `rows` (a transition table of subscriptions or consent_states) makes or
    breaks with the other table's current rows: per changed row, the other table's rows of its contact (OFFSET
    0 keeps the status test out of that lookup, so no status index is chosen for it)."""
    if side == "subscriptions":
        return (
            f"INSERT INTO list_consent_counts (list_id, purpose_id, n) SELECT s.list_id, c.purpose_id, "
            f"{sign}count(*) FROM {rows} s CROSS JOIN LATERAL (SELECT purpose_id, status FROM consent_states "
            "WHERE contact_id = s.contact_id OFFSET 0) c "
            "WHERE s.status = 'confirmed' AND c.status = 'granted' GROUP BY 1, 2;"
        )
    return (
        f"INSERT INTO list_consent_counts (list_id, purpose_id, n) SELECT s.list_id, c.purpose_id, "
        f"{sign}count(*) FROM {rows} c CROSS JOIN LATERAL (SELECT list_id, status FROM subscriptions "
        "WHERE contact_id = c.contact_id OFFSET 0) s "
        "WHERE s.status = 'confirmed' AND c.status = 'granted' GROUP BY 1, 2;"
    )


def _postgresql_functions(counted: str) -> list[str]:
    status = "confirmed" if counted == "subscriptions" else "granted"

    def guarded(tables: tuple[str, ...], body: str) -> str:
        relevant = " OR ".join(f"EXISTS (SELECT 1 FROM {t} WHERE status = '{status}')" for t in tables)
        return f"IF {relevant} THEN {_LOCK_HEAD} {body} END IF;"

    changed = (
        "(SELECT o.* FROM old_rows o JOIN new_rows n ON {key} WHERE {moved})",
        "(SELECT n.* FROM old_rows o JOIN new_rows n ON {key} WHERE {moved})",
    )
    if counted == "subscriptions":
        key = "n.id = o.id"
        moved = "n.status IS DISTINCT FROM o.status OR n.list_id <> o.list_id OR n.contact_id <> o.contact_id"
    else:
        key = "n.contact_id = o.contact_id AND n.purpose_id = o.purpose_id"
        moved = "n.status IS DISTINCT FROM o.status"
    old_moved, new_moved = (part.format(key=key, moved=moved) for part in changed)
    bodies = {
        "insert": guarded(("new_rows",), _coverage_body("new_rows", "", counted)),
        "delete": guarded(("old_rows",), _coverage_body("old_rows", "-", counted)),
        "update": guarded(
            ("old_rows", "new_rows"),
            _coverage_body(old_moved, "-", counted) + " " + _coverage_body(new_moved, "", counted),
        ),
    }
    return [
        f"CREATE OR REPLACE FUNCTION list_consent_counts_{counted}_{event}() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
        for event, body in bodies.items()
    ]


def _sqlite_consent_states_triggers() -> list[str]:
    """The consent-state side on SQLite: `+status` keeps the subscriptions' status index out of the lookup."""

    def delta(row: str, n: int) -> str:
        return (
            "INSERT INTO list_consent_counts (list_id, purpose_id, n) "
            f"SELECT list_id, {row}.purpose_id, {n} FROM subscriptions "
            f"WHERE {row}.status = 'granted' AND contact_id = {row}.contact_id AND +status = 'confirmed';"
        )

    name = "list_consent_counts_consent_states"
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in ("status", "contact_id", "purpose_id"))
    return [
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON consent_states WHEN NEW.status = 'granted' "
        f"BEGIN {delta('NEW', 1)} END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON consent_states WHEN OLD.status = 'granted' "
        f"BEGIN {delta('OLD', -1)} END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF status, contact_id, purpose_id ON consent_states "
        f"WHEN ({changed}) AND (OLD.status = 'granted' OR NEW.status = 'granted') "
        f"BEGIN {delta('OLD', -1)} {delta('NEW', 1)} END",
    ]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in (*_postgresql_functions("subscriptions"), *_postgresql_functions("consent_states")):
            op.execute(statement)
        return
    for event in _EVENTS:
        op.execute(f"DROP TRIGGER IF EXISTS list_consent_counts_consent_states_{event}")
    for statement in _sqlite_consent_states_triggers():
        op.execute(statement)


def downgrade():
    previous = _previous()
    if op.get_bind().dialect.name == "postgresql":
        for counted in ("subscriptions", "consent_states"):
            for statement in previous._postgresql_coverage(counted):
                if statement.startswith("CREATE FUNCTION"):  # the triggers stay; their functions go back
                    op.execute(statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
        return
    for event in _EVENTS:
        op.execute(f"DROP TRIGGER IF EXISTS list_consent_counts_consent_states_{event}")
    for statement in previous._sqlite_coverage("consent_states"):
        op.execute(statement)
