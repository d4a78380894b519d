"""Test databases: create, migrate, empty and drop."""

from urllib.parse import urlsplit, urlunsplit

import psycopg
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from mailer.core.counters import COUNTERS


def _pg_conninfo(url: str, dbname: str | None = None) -> str:
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    if dbname is not None:
        parts = parts._replace(path="/" + dbname)
    return urlunsplit(parts)


def create_postgres_database(admin_url: str, name: str) -> str:
    """Create an empty database next to the one in admin_url; return its SQLAlchemy URL."""
    with psycopg.connect(_pg_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return _pg_conninfo(admin_url, name).replace("postgresql://", "postgresql+psycopg://", 1)


def drop_postgres_database(admin_url: str, name: str) -> None:
    """Remove a test database (closing stray connections first)."""
    with psycopg.connect(_pg_conninfo(admin_url), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
            "pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def migrate_schema(url: str) -> None:
    """Build the schema with the real Alembic migrations (what production runs)."""
    from flask_migrate import upgrade

    from mailer import create_app
    from mailer.core.extensions import db

    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def empty_tables(engine) -> None:
    """Delete every row of every table except Alembic's, restarting ids."""
    if engine.dialect.name == "postgresql":
        _empty_postgres(engine)
        return
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as conn:
        conn.execute(text("PRAGMA foreign_keys=OFF"))
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))
        _empty_counters(conn, tables)
        if conn.execute(text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first():
            conn.execute(text("DELETE FROM sqlite_sequence"))
        conn.execute(text("PRAGMA foreign_keys=ON"))


def _empty_counters(conn, tables: list[str]) -> None:
    """Counter tables last: deleting the rows they count wrote deltas into them (core/counters.py)."""
    for table in COUNTERS:
        if table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))


_DELETE_ORDER: dict[str, list[str]] = {}  # database URL -> tables, children before parents


def _empty_postgres(engine) -> None:
    """DELETE from the few tables a test filled and restart the sequences it used.

    A TRUNCATE of every table rewrites each one's files and costs about a second per test on a busy machine; a
    test fills only a handful of small tables, which DELETE empties in milliseconds.
    """
    key = engine.url.render_as_string(hide_password=False)
    if key not in _DELETE_ORDER:
        sorted_tables = inspect(engine).get_sorted_table_and_fkc_names()
        _DELETE_ORDER[key] = [t for t, _ in reversed(sorted_tables) if t and t != "alembic_version"]
    order = _DELETE_ORDER[key]
    try:
        with engine.begin() as conn:
            probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in order)
            filled = {row[0] for row in conn.execute(text(probe))}
            for table in order:
                if table in filled:
                    conn.execute(text(f'DELETE FROM "{table}"'))
            _empty_counters(conn, order)
            used = (
                conn.execute(
                    text(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() "
                        "AND last_value IS NOT NULL"
                    )
                )
                .scalars()
                .all()
            )
            for sequence in used:
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    except IntegrityError:  # rows referring to each other in a cycle: fall back to the slow, sure way
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in order) + " RESTART IDENTITY CASCADE"))
