"""consent counters: ledger events per hour, action and purpose; confirmed subscribers per list and purpose

Revision ID: 0060
Revises: 0059

Two more counter tables of signed deltas written by triggers (the pattern of 0031, mailer/core/counters.py):
consent_event_counts holds the ledger's events per (hour, action, purpose), so the dashboard's week and a
list's growth read a few hundred rows instead of counting millions of events; list_consent_counts holds, per
list and purpose, the contacts whose subscription to the list is confirmed and whose consent state for the
purpose is granted (a list's consent coverage), maintained from both sides of that pair: a subscription
that becomes or stops being confirmed adds or removes the contact's granted purposes, a consent state that
becomes or stops being granted adds or removes the contact's confirmed lists. On PostgreSQL two
transactions changing the two sides of one pair at once could each miss the other's uncommitted half, so
both triggers first lock the ledger head (every consent-state writer holds it already, mailer/consent/
ledger.py): the later one waits and then sees the earlier one's rows. The backfill counts what exists. The
trigger text is frozen here: a change is a new migration.
"""

import sqlalchemy as sa
from alembic import op

revision = "0060"
down_revision = "0059"
branch_labels = None
depends_on = None

_LOCK_HEAD = "UPDATE ledger_head SET last_event_id = last_event_id WHERE id = 1;"


def _postgresql_events() -> list[str]:
    hour = "date_trunc('hour', created_at)"
    cols = "hour, action, purpose_id"
    bodies = {
        "insert": (
            f"INSERT INTO consent_event_counts ({cols}, n) SELECT {hour}, action, purpose_id, count(*) "
            "FROM new_rows GROUP BY 1, 2, 3;"
        ),
        "delete": (
            f"INSERT INTO consent_event_counts ({cols}, n) SELECT {hour}, action, purpose_id, -count(*) "
            "FROM old_rows GROUP BY 1, 2, 3;"
        ),
        "update": (
            f"INSERT INTO consent_event_counts ({cols}, n) SELECT h, action, purpose_id, sum(d) FROM ("
            f"SELECT {hour} AS h, action, purpose_id, 1 AS d FROM new_rows UNION ALL "
            f"SELECT {hour}, action, purpose_id, -1 FROM old_rows) AS moved "
            "GROUP BY 1, 2, 3 HAVING sum(d) <> 0;"
        ),
    }
    return _postgresql_triggers("consent_event_counts", "consent_events", bodies)


def _coverage_body(rows: str, sign: str, side: str) -> str:
    """Deltas for the pairs that `rows` (a transition table of subscriptions or consent_states) makes or
    breaks with the other table's current rows."""
    if side == "subscriptions":
        return (
            f"INSERT INTO list_consent_counts (list_id, purpose_id, n) SELECT s.list_id, c.purpose_id, "
            f"{sign}count(*) FROM {rows} s JOIN consent_states c ON c.contact_id = s.contact_id "
            "WHERE s.status = 'confirmed' AND c.status = 'granted' GROUP BY 1, 2;"
        )
    return (
        f"INSERT INTO list_consent_counts (list_id, purpose_id, n) SELECT s.list_id, c.purpose_id, "
        f"{sign}count(*) FROM {rows} c JOIN subscriptions s ON s.contact_id = c.contact_id "
        "WHERE s.status = 'confirmed' AND c.status = 'granted' GROUP BY 1, 2;"
    )


def _postgresql_coverage(counted: str) -> list[str]:
    status = "confirmed" if counted == "subscriptions" else "granted"

    def guarded(tables: tuple[str, ...], body: str) -> str:
        relevant = " OR ".join(f"EXISTS (SELECT 1 FROM {t} WHERE status = '{status}')" for t in tables)
        return f"IF {relevant} THEN {_LOCK_HEAD} {body} END IF;"

    # an update counts only the rows whose pair-making columns changed: -old +new, netted per group
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
    return _postgresql_triggers(f"list_consent_counts_{counted}", counted, bodies)


def _postgresql_triggers(name_prefix: str, counted: str, bodies: dict[str, str]) -> list[str]:
    statements = []
    for event, body in bodies.items():
        name = f"{name_prefix}_{event}"
        tables = {
            "insert": "NEW TABLE AS new_rows",
            "delete": "OLD TABLE AS old_rows",
            "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        }[event]
        statements.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$"
        )
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON {counted} REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    return statements


# SQLite stores a DateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format): the hour is written so
_SQLITE_HOUR = "strftime('%Y-%m-%d %H:00:00.000000', {row}.created_at)"


def _sqlite_events() -> list[str]:
    def values(row: str, n: int) -> str:
        return (
            "INSERT INTO consent_event_counts (hour, action, purpose_id, n) VALUES "
            f"({_SQLITE_HOUR.format(row=row)}, {row}.action, {row}.purpose_id, {n});"
        )

    changed = "OLD.created_at IS NOT NEW.created_at OR OLD.action IS NOT NEW.action OR " + (
        "OLD.purpose_id IS NOT NEW.purpose_id"
    )
    return [
        "CREATE TRIGGER consent_event_counts_insert AFTER INSERT ON consent_events "
        f"BEGIN {values('NEW', 1)} END",
        "CREATE TRIGGER consent_event_counts_delete AFTER DELETE ON consent_events "
        f"BEGIN {values('OLD', -1)} END",
        "CREATE TRIGGER consent_event_counts_update AFTER UPDATE OF created_at, action, purpose_id "
        f"ON consent_events WHEN {changed} BEGIN {values('OLD', -1)} {values('NEW', 1)} END",
    ]


def _sqlite_coverage(counted: str) -> list[str]:
    if counted == "subscriptions":
        status, columns = "confirmed", ("status", "list_id", "contact_id")

        def delta(row: str, n: int) -> str:
            return (
                "INSERT INTO list_consent_counts (list_id, purpose_id, n) "
                f"SELECT {row}.list_id, purpose_id, {n} FROM consent_states "
                f"WHERE {row}.status = 'confirmed' AND contact_id = {row}.contact_id AND status = 'granted';"
            )
    else:
        status, columns = "granted", ("status", "contact_id", "purpose_id")

        def delta(row: str, n: int) -> str:
            return (
                "INSERT INTO list_consent_counts (list_id, purpose_id, n) "
                f"SELECT list_id, {row}.purpose_id, {n} FROM subscriptions "
                f"WHERE {row}.status = 'granted' AND contact_id = {row}.contact_id AND status = 'confirmed';"
            )

    name = f"list_consent_counts_{counted}"
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
    return [
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {counted} WHEN NEW.status = '{status}' "
        f"BEGIN {delta('NEW', 1)} END",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {counted} WHEN OLD.status = '{status}' "
        f"BEGIN {delta('OLD', -1)} END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {', '.join(columns)} ON {counted} "
        f"WHEN ({changed}) AND (OLD.status = '{status}' OR NEW.status = '{status}') "
        f"BEGIN {delta('OLD', -1)} {delta('NEW', 1)} END",
    ]


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        "consent_event_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=True),
        sa.Column("action", sa.String(30), nullable=True),
        sa.Column("purpose_id", sa.Integer(), nullable=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_event_counts")),
    )
    # the dashboard reads an action's recent hours, list stats a purpose's recent hours
    op.create_index("ix_consent_event_counts_group", "consent_event_counts", ["action", "hour", "purpose_id"])
    op.create_index("ix_consent_event_counts_purpose", "consent_event_counts", ["purpose_id", "hour"])
    op.create_table(
        "list_consent_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("purpose_id", sa.Integer(), nullable=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_consent_counts")),
    )
    op.create_index("ix_list_consent_counts_group", "list_consent_counts", ["list_id", "purpose_id"])
    if dialect == "postgresql":
        op.execute("LOCK TABLE consent_events, subscriptions, consent_states IN SHARE MODE")
        hour = "date_trunc('hour', created_at)"
        statements = [
            *_postgresql_events(),
            *_postgresql_coverage("subscriptions"),
            *_postgresql_coverage("consent_states"),
        ]
    else:
        hour = _SQLITE_HOUR.format(row="consent_events")
        statements = [
            *_sqlite_events(),
            *_sqlite_coverage("subscriptions"),
            *_sqlite_coverage("consent_states"),
        ]
    op.execute(
        "INSERT INTO consent_event_counts (hour, action, purpose_id, n) "
        f"SELECT {hour}, action, purpose_id, count(*) FROM consent_events GROUP BY 1, 2, 3"
    )
    op.execute(
        "INSERT INTO list_consent_counts (list_id, purpose_id, n) SELECT s.list_id, c.purpose_id, count(*) "
        "FROM subscriptions s JOIN consent_states c ON c.contact_id = s.contact_id "
        "WHERE s.status = 'confirmed' AND c.status = 'granted' GROUP BY 1, 2"
    )
    for statement in statements:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for prefix, counted in (
        ("consent_event_counts", "consent_events"),
        ("list_consent_counts_subscriptions", "subscriptions"),
        ("list_consent_counts_consent_states", "consent_states"),
    ):
        for event in ("insert", "delete", "update"):
            on = f" ON {counted}" if dialect == "postgresql" else ""
            op.execute(f"DROP TRIGGER IF EXISTS {prefix}_{event}{on}")
            if dialect == "postgresql":
                op.execute(f"DROP FUNCTION IF EXISTS {prefix}_{event}()")
    op.drop_index("ix_list_consent_counts_group", table_name="list_consent_counts")
    op.drop_table("list_consent_counts")
    op.drop_index("ix_consent_event_counts_purpose", table_name="consent_event_counts")
    op.drop_index("ix_consent_event_counts_group", table_name="consent_event_counts")
    op.drop_table("consent_event_counts")
