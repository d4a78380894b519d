"""Work deferred to the real commit (core.after_commit): a message to a worker queued inside a savepoint goes
out only when the outermost transaction commits, and never when that savepoint is rolled back; the erasure
register's file line follows the same rule. Asserted on the mail the SMTP server receives and on the file."""

from mailer.campaigns import lifecycle
from mailer.core.extensions import db
from mailer.privacy.erasure_register import record_erasure
from tests.support.audience import subscriber
from tests.support.campaigns import make_campaign


def _tests_received(smtp_server) -> list[str]:
    tests = [m for m in smtp_server.messages if m.message["Subject"].startswith("[TEST]")]
    return sorted(r for m in tests for r in m.rcpt_tos)


def test_a_message_queued_in_a_rolled_back_savepoint_is_never_sent(app_ctx, demo_form, smtp_server, worker):
    campaign = make_campaign(demo_form.lists)
    db.session.commit()

    kept = db.session.begin_nested()
    lifecycle.send_test(campaign, ["kept@example.com"])
    kept.commit()  # released: still waits for the real commit
    undone = db.session.begin_nested()
    lifecycle.send_test(campaign, ["undone@example.com"])
    inner = db.session.begin_nested()
    lifecycle.send_test(campaign, ["inner@example.com"])
    inner.commit()
    undone.rollback()  # takes the savepoint inside it along
    worker.drain()
    assert _tests_received(smtp_server) == []  # nothing before the real commit

    db.session.commit()
    worker.drain()
    assert _tests_received(smtp_server) == ["kept@example.com"]


def test_nothing_queued_survives_the_outer_rollback(app_ctx, demo_form, smtp_server, worker):
    campaign = make_campaign(demo_form.lists)
    db.session.commit()
    with db.session.begin_nested():
        lifecycle.send_test(campaign, ["gone@example.com"])
    db.session.rollback()
    db.session.commit()
    worker.drain()
    assert _tests_received(smtp_server) == []


def test_the_register_line_of_a_rolled_back_savepoint_is_not_written(app, app_ctx, demo_form, tmp_path):
    register = tmp_path / "erasures.jsonl"
    app.config["MAILER_ERASURE_REGISTER_FILE"] = str(register)
    kept = subscriber(demo_form, "kept@example.com")
    undone = subscriber(demo_form, "undone@example.com")
    db.session.commit()

    with db.session.begin_nested():
        record_erasure(kept, "hash-kept")
    savepoint = db.session.begin_nested()
    record_erasure(undone, "hash-undone")
    savepoint.rollback()
    assert not register.exists()  # a released savepoint is not a commit

    db.session.commit()
    lines = register.read_text().splitlines()
    assert len(lines) == 1 and kept.public_id in lines[0] and undone.public_id not in lines[0]
