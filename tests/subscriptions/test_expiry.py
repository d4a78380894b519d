"""Storage limitation: sign-ups never confirmed are purged after UNCONFIRMED_RETENTION_DAYS; the rest is
untouched."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.consent.models import ConsentEvent, ConsentState
from mailer.contacts.models.contact import Contact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions.forms import FormSettings, save_form
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.signup import confirmation_token
from tests.conftest import sql
from tests.support.http import consent_values
from tests.support.signup import contact_by_email, outbox_to, sign_up


def _age(email: str, days: int, list_id: int | None = None) -> None:
    """Move a contact's pending sign-up into the past (the ledger itself is never touched)."""
    contact_id = contact_by_email(email).id
    when = utcnow() - timedelta(days=days)
    list_filter = " AND list_id = :list_id" if list_id else ""
    sql(
        f"UPDATE subscriptions SET requested_at = :when WHERE contact_id = :id{list_filter}",
        when=when,
        id=contact_id,
        list_id=list_id,
    )
    purpose_filter = " AND purpose_id = (SELECT id FROM purposes WHERE list_id = :list_id)" if list_id else ""
    sql(
        "UPDATE consent_states SET updated_at = :when WHERE contact_id = :id AND status = 'pending'"
        + purpose_filter,
        when=when,
        id=contact_id,
        list_id=list_id,
    )


def _confirm(client, email):
    assert client.post(f"/confirm/{confirmation_token(contact_by_email(email))}").status_code == 200


@pytest.fixture
def people(app, client, demo_form, worker):
    """Ann never confirmed (31 days ago), Cat confirmed (31 days ago), Dan has 29 days left... of 30."""
    sign_up(client, email="ann@example.com", name="Ann", consents=consent_values(client))
    sign_up(client, email="cat@example.com", name="Cat")
    _confirm(client, "cat@example.com")
    sign_up(client, email="dan@example.com", name="Dan")
    worker.drain()
    _age("ann@example.com", 31)
    _age("cat@example.com", 31)
    _age("dan@example.com", 29)
    return {
        email: contact_by_email(email).id
        for email in ("ann@example.com", "cat@example.com", "dan@example.com")
    }


def _contact(contact_id: int) -> Contact:
    db.session.expire_all()
    return db.session.get(Contact, contact_id)


def _ledger(contact_id: int) -> list[ConsentEvent]:
    db.session.expire_all()
    query = select(ConsentEvent).where(ConsentEvent.contact_id == contact_id).order_by(ConsentEvent.id)
    return list(db.session.execute(query).scalars())


def _subs(contact_id: int) -> list[str]:
    db.session.expire_all()
    query = select(Subscription.status).where(Subscription.contact_id == contact_id)
    return list(db.session.execute(query).scalars())


def _everything() -> tuple:
    """Every row the purge could touch."""
    db.session.expire_all()
    contacts = [
        (c.id, c.email, c.email_hash, c.name, c.status)
        for c in db.session.execute(select(Contact).order_by(Contact.id)).scalars()
    ]
    subs = [
        (s.id, s.status, s.requested_at)
        for s in db.session.execute(select(Subscription).order_by(Subscription.id)).scalars()
    ]
    events = [
        (e.id, e.action, e.email, e.ip, e.user_agent, e.pii_salt)
        for e in db.session.execute(select(ConsentEvent).order_by(ConsentEvent.id)).scalars()
    ]
    states = [
        (s.contact_id, s.purpose_id, s.status, s.event_id)
        for s in db.session.execute(
            select(ConsentState).order_by(ConsentState.contact_id, ConsentState.purpose_id)
        ).scalars()
    ]
    return contacts, subs, events, states


def test_scheduled_job_purges_an_old_unconfirmed_sign_up(app, runner, people, worker):
    ann, cat, dan = people.values()
    cat_before = [(e.id, e.email, e.ip, e.user_agent) for e in _ledger(cat)]
    assert outbox_to("ann@example.com")

    app.extensions["mailer.workers"].actors["purge_unconfirmed_signups"].send()
    worker.drain()

    gone = _contact(ann)
    assert (gone.email, gone.email_hash, gone.name, gone.status) == (None, None, None, "erased")
    assert _subs(ann) == []
    history = _ledger(ann)
    assert all(e.email is None and e.ip is None and e.user_agent is None for e in history)
    assert [e.action for e in history].count("expired") == 3 and history[-1].action == "erased"
    assert {
        s.status
        for s in db.session.execute(select(ConsentState).where(ConsentState.contact_id == ann)).scalars()
    } == {"expired"}
    assert outbox_to("ann@example.com") == []  # the confirmation email held her address too

    kept = _contact(cat)
    assert (kept.email, kept.name, kept.status) == ("cat@example.com", "Cat", "active")
    assert _subs(cat) == ["confirmed"]
    assert [(e.id, e.email, e.ip, e.user_agent) for e in _ledger(cat)] == cat_before
    assert _subs(dan) == ["pending"] and _contact(dan).email == "dan@example.com"

    result = runner.invoke(args=["consent", "verify"])
    assert result.exit_code == 0, result.output


def test_dry_run_changes_nothing(app, runner, people):
    before = _everything()
    result = runner.invoke(args=["purge-unconfirmed", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Would purge 1 pending subscriptions of 1 contacts; 1 contacts anonymised." in result.output
    assert _everything() == before


def test_cli_purges_and_honours_days(app, runner, people):
    ann = people["ann@example.com"]
    longer = runner.invoke(args=["purge-unconfirmed", "--days", "60"])
    assert "Purged 0 pending subscriptions of 0 contacts; 0 contacts anonymised." in longer.output
    assert _contact(ann).status == "active"
    result = runner.invoke(args=["purge-unconfirmed"])
    assert result.exit_code == 0
    assert "Purged 1 pending subscriptions of 1 contacts; 1 contacts anonymised." in result.output
    assert _contact(ann).status == "erased"
    assert runner.invoke(args=["consent", "verify"]).exit_code == 0


@pytest.mark.config(UNCONFIRMED_RETENTION_DAYS=7)
def test_retention_period_is_configurable(app, runner, people):
    result = runner.invoke(args=["purge-unconfirmed"])
    assert "Purged 2 pending subscriptions of 2 contacts; 2 contacts anonymised." in result.output
    assert _contact(people["dan@example.com"]).status == "erased"
    assert _contact(people["cat@example.com"]).status == "active"


def test_a_subscriber_keeps_everything_but_the_stale_request(app, client, runner, demo_form, worker):
    second = create_list("Second list")
    save_form(FormSettings(slug="both", name="Both", list_ids=[demo_form.lists[0].id, second.id]))
    db.session.commit()
    sign_up(client, email="eve@example.com", slug="both", consents=consent_values(client, "both")[:1])
    _confirm(client, "eve@example.com")
    sign_up(client, email="eve@example.com", slug="both", consents=consent_values(client, "both")[1:])
    worker.drain()
    eve = contact_by_email("eve@example.com").id
    _age("eve@example.com", 40, list_id=second.id)

    result = runner.invoke(args=["purge-unconfirmed"])
    assert "Purged 1 pending subscriptions of 1 contacts; 0 contacts anonymised." in result.output
    assert _contact(eve).email == "eve@example.com" and _subs(eve) == ["confirmed"]
    expired = [e for e in _ledger(eve) if e.action == "expired"]
    assert [e.purpose.list_id for e in expired] == [second.id]
    assert all(e.email == "eve@example.com" for e in _ledger(eve))
    assert runner.invoke(args=["consent", "verify"]).exit_code == 0
