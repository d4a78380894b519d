"""Test databases: create, migrate, empty and drop."""
from urllib.parse import urlsplit, urlunsplit

import psycopg
from sqlalchemy import inspect, text


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
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                     "pg_backend_pid()", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def migrate_schema(url: str) -> None:
    """Build the schema with the real Alembic migrations (what production runs)."""
    from flask_migrate import upgrade

    from mailer import create_app
    from mailer.extensions import db

    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def empty_tables(engine) -> None:
    """Delete every row of every table except Alembic's, restarting ids."""
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            return
        conn.execute(text("PRAGMA foreign_keys=OFF"))
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))
        if conn.execute(text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first():
            conn.execute(text("DELETE FROM sqlite_sequence"))
        conn.execute(text("PRAGMA foreign_keys=ON"))
