"""The dashboard's week and a list's consent coverage come from counters the database keeps
(core/counters.py: consent_event_counts, list_consent_counts). Each equals the count(*) it replaced after
a realistic mix of changes on both backends: a sign-up and its confirmation, tracking consent given and
withdrawn, imports in both modes, bulk jobs adding to and removing from lists, an unsubscribe and an
erasure; and the dashboard's 'last 7 days' stays exact to the second at the edge of the week."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from mailer.admin import dashboard
from mailer.bulk import operations as bulk
from mailer.consent.ledger import RequestContext, record_consent
from mailer.consent.models import ConsentEvent, ConsentState
from mailer.contacts.models.contact import Contact
from mailer.core import counters
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.privacy.erasure import erase_contact
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.withdrawal import withdraw_list
from tests.analytics.test_counters import _import
from tests.public.recipients import news_list, subscribed_contact, tracking_purposes
from tests.support.http import login
from tests.support.privacy import sign_up_and_confirm

CTX = RequestContext("preference-centre", ip="203.0.113.9", user_agent="Mozilla/5.0 Counters")
PRIOR = bulk.Options(basis="has_consent", statement="Signed the paper form at the Berlin shop; kept on file.")


def _recounted_coverage() -> dict[tuple[int, int], int]:
    """The query list stats ran before: confirmed subscribers per list joined with granted consent states."""
    rows = db.session.execute(
        select(Subscription.list_id, ConsentState.purpose_id, func.count())
        .join(ConsentState, ConsentState.contact_id == Subscription.contact_id)
        .where(Subscription.status == "confirmed", ConsentState.status == "granted")
        .group_by(Subscription.list_id, ConsentState.purpose_id)
    )
    return {(list_id, purpose_id): n for list_id, purpose_id, n in rows}


def _week(action: str, since: datetime) -> int:
    """The dashboard's count before: events of an action from `since` on."""
    query = select(func.count()).where(ConsentEvent.action == action, ConsentEvent.created_at >= since)
    return db.session.execute(query.select_from(ConsentEvent)).scalar_one()


def _exact() -> None:
    db.session.expire_all()
    for table in counters.COUNTERS:
        assert counters.drift(table) == {}, table
    assert counters.totals("list_consent_counts") == _recounted_coverage()
    since = utcnow().replace(microsecond=0) - timedelta(days=7)
    assert counters.consent_events_since(("requested", "confirmed"), since) == {
        "requested": _week("requested", since),
        "confirmed": _week("confirmed", since),
    }


def _tracked(mailing_list, tracking) -> dict[str, int]:
    """The list's kept coverage of the tracking purposes, by kind (groups of 0 are left out)."""
    kept = counters.totals("list_consent_counts", list_id=mailing_list.id)
    return {kind: kept[(p.id,)] for kind, p in tracking.items() if (p.id,) in kept}


def _contact(email: str) -> Contact:
    return db.session.execute(select(Contact).where(Contact.email == email)).scalar_one()


def _bulk(action: str, mailing_list, people: list[Contact], options=None) -> None:
    job = bulk.start_job(action, mailing_list.public_id, people, None, None, options=options)
    db.session.commit()
    bulk.run_job(job.id)
    db.session.expire_all()


def _coverage_row(client, mailing_list, purpose_name: str) -> str:
    page = client.get(f"/admin/lists/{mailing_list.public_id}/stats")
    assert page.status_code == 200
    return re.sub(r"\s+", " ", re.search(rf"{purpose_name}</th>(.*?)</tr>", page.text, re.S).group(1))


def _dashboard_figure(client, label: str) -> int:
    page = client.get("/admin/")
    assert page.status_code == 200
    found = re.search(
        r'<div class="stat">([\d,]+)</div><div class="text-body-secondary small">' + label, page.text
    )
    return int(found.group(1).replace(",", ""))


@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="10 per hour")
def test_the_week_and_consent_coverage_equal_a_recount_after_every_kind_of_change(
    app, client, demo_form, worker, staff_user
):
    news = db.session.execute(select(Form).where(Form.slug == "demo")).scalar_one().lists[0]
    offers = news_list("Offers")
    tracking = tracking_purposes()
    _exact()

    # a sign-up through the form and its confirmation link; then open tracking from the preference centre
    ann = sign_up_and_confirm(
        app,
        client,
        worker,
        "ann@example.net",
        "Ann",
        ip="203.0.113.9",
        user_agent="Mozilla/5.0 Counters",
        confirm_ip="203.0.113.9",
        confirm_user_agent="Mozilla/5.0 Counters",
        all_consents=False,  # the list only: tracking comes next, from the preference centre
    )
    record_consent(ann, tracking["open"], "granted", CTX)
    db.session.commit()
    _exact()
    bob = subscribed_contact("bob@example.net", [news], tracking=("open", "click"))
    db.session.commit()
    _exact()
    assert _tracked(news, tracking) == {"open": 2, "click": 1}

    # imports: on a stated basis (confirmed at once) and by double opt-in (pending: not counted)
    _import(news, "cy@example.net,Cy\ndee@example.net,Dee\n", "has_consent")
    _import(offers, "eve@example.net,Eve\nbob@example.net,Bob\n", "double_opt_in")
    cy, dee = _contact("cy@example.net"), _contact("dee@example.net")
    record_consent(cy, tracking["click"], "granted", CTX)
    record_consent(dee, tracking["open"], "granted", CTX)
    db.session.commit()
    _exact()

    # bulk jobs: ann, cy and dee added to Offers on a stated basis; dee removed from News
    _bulk("list_add", offers, [ann, cy, dee], PRIOR)
    _exact()
    _bulk("list_remove", news, [dee])
    _exact()
    assert _tracked(offers, tracking) == {"open": 2, "click": 1}

    # tracking withdrawn, a list left, an erasure
    record_consent(bob, tracking["open"], "withdrawn", CTX)
    withdraw_list(ann, news, CTX, {})
    db.session.commit()
    _exact()
    erase_contact(db.session.get(Contact, cy.id), RequestContext("test"))
    db.session.commit()
    _exact()
    assert _tracked(news, tracking) == {"click": 1}

    # compaction keeps every total
    for table in ("consent_event_counts", "list_consent_counts"):
        counters.compact(table)
    db.session.commit()
    _exact()

    # what staff see: News has bob confirmed (click only), Offers ann and dee (both open tracking)
    login(client, "owner@example.com", "correct horse battery")
    assert "0 of 1" in _coverage_row(client, news, "Open tracking")
    assert "1 of 1" in _coverage_row(client, news, "Click tracking")
    assert "2 of 2" in _coverage_row(client, offers, "Open tracking")
    week_ago = utcnow() - timedelta(days=7)
    assert _dashboard_figure(client, "Sign-ups in the last 7 days") == _week("requested", week_ago) > 0
    assert _dashboard_figure(client, "Confirmations in the last 7 days") == _week("confirmed", week_ago) > 0


def test_the_dashboards_week_is_exact_at_its_edge(app, client, staff_user, demo_form, monkeypatch):
    """Events a second inside and a second outside the week, in the hour the week starts in: the whole hours
    come from the counter, that hour's part from the ledger."""
    now = datetime(2026, 3, 9, 12, 30, 15)
    monkeypatch.setattr(dashboard, "utcnow", lambda: now)
    ann = subscribed_contact("ann@example.net", demo_form.lists)
    purpose = demo_form.lists[0].purpose
    for _ in range(5):
        record_consent(ann, purpose, "requested", CTX)
    db.session.commit()
    edge = now - timedelta(days=7)
    times = [
        edge - timedelta(hours=2),  # outside
        edge - timedelta(seconds=1),  # outside, the same hour
        edge,  # inside: 'from a week ago on'
        edge + timedelta(minutes=20),  # inside, the same hour
        edge + timedelta(hours=3),  # inside, a whole hour
    ]
    ids = db.session.execute(
        select(ConsentEvent.id).where(ConsentEvent.action == "requested").order_by(ConsentEvent.id)
    ).scalars()
    for event_id, at in zip(ids, times, strict=True):  # moved in time: the counter follows an update too
        db.session.execute(update(ConsentEvent).where(ConsentEvent.id == event_id).values(created_at=at))
    db.session.commit()
    assert counters.drift("consent_event_counts") == {}
    assert counters.consent_events_since(("requested",), edge) == {"requested": 3}
    login(client, "owner@example.com", "correct horse battery")
    assert _dashboard_figure(client, "Sign-ups in the last 7 days") == 3


def test_the_coverage_triggers_lock_the_ledger_head_without_writing_a_new_version_of_it(app_ctx, demo_form):
    """Each coverage trigger takes the ledger head's lock (so the two sides of a pair serialise with ledger
    appends) by SELECT ... FOR UPDATE (migration 0063): an UPDATE wrote a new version of the head per
    statement, which one transaction can't prune, so n single-row statements cost O(n^2)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks and row versions are PostgreSQL's")
    news = demo_form.lists[0]
    subscribed_contact("first@example.com", [news])  # the head exists once a first event is appended
    with db.engine.connect() as connection, connection.begin():
        head = text("SELECT ctid FROM ledger_head WHERE id = 1")
        before = connection.execute(head).scalar_one()
        for n in range(20):  # one statement each, as an ORM loop writes them
            contact_id = connection.execute(
                text(
                    "INSERT INTO contacts (public_id, email, email_hash, attributes, status, source, "
                    "created_at, updated_at) VALUES (:p, :e, :h, '{}', 'active', 'test', now(), now()) "
                    "RETURNING id"
                ),
                {"p": f"lock-test-{n}", "e": f"p{n}@example.com", "h": f"hash-{n}"},
            ).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO subscriptions (contact_id, list_id, status, source, created_at, "
                    "requested_at) VALUES (:c, :l, 'confirmed', 'test', now(), now())"
                ),
                {"c": contact_id, "l": news.id},
            )
            connection.execute(
                text(
                    "INSERT INTO consent_states (contact_id, purpose_id, status, event_id, updated_at) "
                    "SELECT :c, :p, 'granted', max(id), now() FROM consent_events"
                ),
                {"c": contact_id, "p": news.purpose.id},
            )
        assert connection.execute(head).scalar_one() == before  # locked, not rewritten
        with db.engine.connect() as other, pytest.raises(OperationalError, match="could not obtain lock"):
            other.execute(text("SELECT 1 FROM ledger_head WHERE id = 1 FOR UPDATE NOWAIT"))
        covered = connection.execute(
            text("SELECT sum(n) FROM list_consent_counts WHERE list_id = :l AND purpose_id = :p"),
            {"l": news.id, "p": news.purpose.id},
        ).scalar_one()
        assert covered == 21  # the first subscriber and the twenty, each counted once
