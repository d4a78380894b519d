"""Restoring a backup taken before an erasure brings the person back; `flask privacy reapply-erasures` removes
them again from the erasure register kept outside the database."""

import json
import sqlite3
import subprocess

from sqlalchemy import select

from mailer import create_app
from mailer.contacts.models.contact import Contact
from mailer.contacts.suppression import is_suppressed
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.privacy.models.register import ErasureRecord
from tests.public.recipients import news_list, subscribed_contact
from tests.support.proxy import app_config_from_environment


def _libpq_url(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://", 1)


def backup(app, path) -> None:
    """What the README's backup step does: pg_dump (or SQLite's online backup)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        with sqlite3.connect(uri.split("///", 1)[1]) as source, sqlite3.connect(path) as copy:
            source.backup(copy)
    else:
        subprocess.run(["pg_dump", "-Fc", "-f", str(path), _libpq_url(app)], check=True, capture_output=True)


def restore(app, path) -> None:
    """What the README's restore step does: every table back to the backup's state."""
    db.session.remove()
    db.engine.dispose()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        with sqlite3.connect(path) as copy, sqlite3.connect(uri.split("///", 1)[1]) as target:
            copy.backup(target)
    else:
        subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--single-transaction",
                "-d",
                _libpq_url(app),
                str(path),
            ],
            check=True,
            capture_output=True,
        )


def contact(public_id: str) -> Contact:
    db.session.expire_all()
    return db.session.execute(select(Contact).where(Contact.public_id == public_id)).scalar_one()


def test_an_erasure_after_the_backup_is_applied_again_after_the_restore(app, app_ctx, runner, tmp_path):
    register = tmp_path / "erasures.jsonl"
    app.config["MAILER_ERASURE_REGISTER_FILE"] = str(register)
    news = news_list("News")
    ann = subscribed_contact("ann.restore@example.com", [news], name="Ann Restore")
    bob = subscribed_contact("bob.restore@example.com", [news], name="Bob Restore")
    ann_id, ann_hash, bob_id = ann.public_id, ann.email_hash, bob.public_id
    db.session.commit()

    backup_taken = utcnow()
    backup(app, tmp_path / "backup.dump")
    erased = runner.invoke(args=["privacy", "erase", "ann.restore@example.com", "--yes"])
    assert erased.exit_code == 0, erased.output
    assert contact(ann_id).email is None and is_suppressed(ann_hash)
    [line] = register.read_text().splitlines()
    assert json.loads(line)["contact"] == ann_id
    assert "restore@example.com" not in line and "Ann" not in line  # ids and keyed hashes only

    restore(app, tmp_path / "backup.dump")
    assert contact(ann_id).email == "ann.restore@example.com"  # the old backup resurrected her
    assert not is_suppressed(ann_hash)
    assert db.session.execute(select(ErasureRecord)).first() is None  # and lost the register's row

    done = runner.invoke(args=["privacy", "reapply-erasures", "--since", backup_taken.isoformat()])
    assert done.exit_code == 0, done.output
    assert "1 contacts erased again, 0 already erased" in done.output
    gone = contact(ann_id)
    assert (gone.email, gone.name, gone.status) == (None, None, "erased")
    assert is_suppressed(ann_hash)
    assert contact(bob_id).email == "bob.restore@example.com"  # nobody else is touched

    again = runner.invoke(args=["privacy", "reapply-erasures", "--since", backup_taken.isoformat()])
    assert "0 contacts erased again, 1 already erased" in again.output

    exported = tmp_path / "exported.jsonl"
    result = runner.invoke(args=["privacy", "export-erasures", str(exported)])
    assert result.exit_code == 0 and "Wrote 1 erasures" in result.output
    assert json.loads(exported.read_text())["contact"] == ann_id


def test_an_unreadable_since_or_register_gets_a_clear_answer(app_ctx, runner, tmp_path):
    bad = runner.invoke(args=["privacy", "reapply-erasures", "--since", "last tuesday"])
    assert bad.exit_code == 2 and "is not a date" in bad.output
    junk = tmp_path / "junk.jsonl"
    junk.write_text("hello\n")
    refused = runner.invoke(
        args=["privacy", "reapply-erasures", "--since", "2026-01-01", "--register", str(junk)]
    )
    assert refused.exit_code == 1 and "line 1: not an erasure register entry" in refused.output


def test_the_register_file_setting_comes_from_the_environment(monkeypatch, tmp_path):
    app_config_from_environment(monkeypatch, MAILER_ERASURE_REGISTER_FILE=str(tmp_path / "r.jsonl"))
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/r.db"})
    assert app.config["MAILER_ERASURE_REGISTER_FILE"] == str(tmp_path / "r.jsonl")
