"""Operator commands and the health check, as an operator uses them."""

from sqlalchemy import func, inspect, select, text

from mailer.consent.models import Notice, Purpose
from mailer.core.extensions import db
from mailer.staff.models.accounts import StaffUser
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import MailingList
from tests.support.http import login
from tests.support.signup import page


def _staff() -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(u.email, u.role) for u in db.session.execute(select(StaffUser).order_by(StaffUser.id)).scalars()]


def test_create_admin_makes_a_working_login(app, app_ctx, runner, client):
    result = runner.invoke(args=["create-admin", "Boss@Example.com", "--password", "a long enough secret"])
    assert result.exit_code == 0, result.output
    assert "Created owner account boss@example.com." in result.output
    assert _staff() == [("boss@example.com", "owner")]
    login(client, "boss@example.com", "a long enough secret")
    assert "boss@example.com" in page(client.get("/admin/"))


def test_create_admin_prompts_for_the_password_when_left_out(app, app_ctx, runner, client):
    result = runner.invoke(
        args=["create-admin", "ops@example.com", "--role", "admin"],
        input="prompted secret!\nprompted secret!\n",
    )
    assert result.exit_code == 0, result.output
    assert "prompted secret!" not in result.output  # typed without echo
    assert _staff() == [("ops@example.com", "admin")]
    login(client, "ops@example.com", "prompted secret!")


def test_create_admin_refuses_a_short_password(app, app_ctx, runner):
    result = runner.invoke(args=["create-admin", "boss@example.com", "--password", "short"])
    assert result.exit_code == 1
    assert "The password must have at least 10 characters." in result.output
    assert _staff() == []


def test_create_admin_refuses_a_bad_address_and_a_duplicate(app, app_ctx, runner):
    bad = runner.invoke(args=["create-admin", "not-an-address", "--password", "a long enough secret"])
    assert bad.exit_code == 1 and "doesn't look like an email address" in bad.output
    runner.invoke(args=["create-admin", "boss@example.com", "--password", "a long enough secret"])
    again = runner.invoke(args=["create-admin", "BOSS@example.com", "--password", "another long secret"])
    assert again.exit_code == 1 and "An account with that email already exists." in again.output
    assert _staff() == [("boss@example.com", "owner")]


def _row_counts() -> dict[str, int]:
    db.session.expire_all()
    tables = [t for t in inspect(db.engine).get_table_names() if t != "alembic_version"]
    return {t: db.session.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in tables}


def test_seed_demo_is_idempotent(app, app_ctx, runner, client):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Demo form ready: http://localhost/f/demo" in first.output
    after_first = _row_counts()
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "Demo form ready" in second.output
    assert _row_counts() == after_first
    count = lambda model: db.session.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
    # One notice per language of the demo form's wording (en, it, de, fr, es: b2d3811); a rerun adds none.
    assert (count(Form), count(MailingList), count(Purpose), count(Notice)) == (1, 1, 3, 5)
    shown = client.get("/f/demo")
    assert shown.status_code == 200 and "Subscribe to the demo newsletter" in page(shown)


def test_seed_demo_recreates_a_deleted_demo_form(app, app_ctx, runner, client):
    runner.invoke(args=["seed-demo"])
    form = db.session.execute(select(Form)).scalar_one()
    db.session.delete(form)
    db.session.commit()
    assert client.get("/f/demo").status_code == 404
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert client.get("/f/demo").status_code == 200
    assert (
        db.session.execute(select(func.count()).select_from(MailingList)).scalar_one() == 1
    )  # the list is reused


def test_healthz_reports_database_and_broker(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "broker": "ok"}
