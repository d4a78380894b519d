"""The local outbox (embedded mode): every message browsable
as HTML (sandboxed), text, headers and raw source."""

import re

from sqlalchemy import select

from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from tests.support.signup import page, sign_up

SUBJECT = "Please confirm your subscription to Mailer Demo"


def _stored(auth, worker):
    sign_up(auth, email="ann@example.com", name="Ann <b>Bold</b>")
    worker.drain()
    db.session.expire_all()
    return db.session.execute(select(OutboxMessage)).scalar_one()


def test_outbox_lists_and_shows_a_stored_message(app, auth, demo_form, worker):
    message = _stored(auth, worker)
    index = page(auth.get("/admin/outbox"))
    assert SUBJECT in index and "ann@example.com" in index
    assert f"/admin/outbox/{message.public_id}" in index

    shown = auth.get(f"/admin/outbox/{message.public_id}")
    text = page(shown)
    assert shown.status_code == 200 and SUBJECT in text
    assert re.search(r"http://localhost/confirm/[A-Za-z0-9_.\-]+", text)  # the text part
    assert (
        message.message_id in text and "Content-Type: multipart/alternative" in text
    )  # headers and raw source
    assert f'sandbox src="/admin/outbox/{message.public_id}/html"' in shown.text
    assert "<b>Bold</b>" not in shown.text  # the name someone typed is shown as text, never as markup


def test_outbox_html_part_is_sandboxed(app, auth, demo_form, worker):
    message = _stored(auth, worker)
    response = auth.get(f"/admin/outbox/{message.public_id}/html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "http://localhost/confirm/" in page(response)
    assert "<b>Bold</b>" not in response.text


def test_unknown_outbox_message_is_a_404(app, auth):
    response = auth.get("/admin/outbox/no-such-message")
    assert response.status_code == 404 and "We couldn't find that page." in page(response)
    assert auth.get("/admin/outbox/no-such-message/html").status_code == 404


def test_empty_outbox_says_how_to_fill_it(app, auth):
    shown = page(auth.get("/admin/outbox"))
    assert "No mail yet." in shown


def test_campaign_messages_are_listed_under_their_subject_as_marketing(app, auth, worker):
    """In embedded mode a sent campaign lands in the outbox
    like any message: its subject, kind and Message-ID."""
    from mailer.campaigns import lifecycle as campaigns
    from tests.support.campaigns import newsletter

    campaign, people = newsletter(2, subject="Spring news for {{ contact.first_name }} — ünïcode")
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    db.session.expire_all()
    stored = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.rcpt_to)).scalars().all()
    assert [(m.rcpt_to, m.subject, m.category) for m in stored] == [
        (person.email, f"Spring news for {person.name.split()[0]} — ünïcode", "marketing")
        for person in people
    ]
    assert all(m.message_id.startswith("<") and m.message_id in m.raw.decode() for m in stored)
    index = page(auth.get("/admin/outbox"))
    assert "Spring news for Person0 — ünïcode" in index and "(no subject)" not in index


def test_reading_a_tracked_message_in_the_outbox_is_not_an_open_or_a_click(app, auth, worker):
    """The preview shows the message without our pixel and with the links' destinations, and records nothing;
    the raw source still shows the message as it was sent."""
    from mailer.campaigns import lifecycle as campaigns
    from mailer.campaigns.models import Campaign
    from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
    from mailer.tracking.buffer import buffer_for
    from tests.support.campaigns import make_campaign, subscriber

    ensure_tracking_purposes()
    news = create_list("News")
    subscriber(news, "ann@example.com", "Ann", tracking=("tracking:open", "tracking:click"))
    campaign = make_campaign([news], track_opens=True, track_clicks=True)
    db.session.commit()
    campaigns.start_campaign(db.session.get(Campaign, campaign.id))
    db.session.commit()
    worker.drain()
    message = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.category == "marketing")
    ).scalar_one()
    raw = page(auth.get(f"/admin/outbox/{message.public_id}"))
    assert "/t/o/" in raw and "/t/c/" in raw  # as sent, in the raw source

    pending = buffer_for(app).pending()
    preview = auth.get(f"/admin/outbox/{message.public_id}/html").text
    assert "/t/o/" not in preview and "/t/c/" not in preview
    assert (
        'href="https://example.org/news?id=7&amp;lang=en"' in preview and "data:image/gif;base64," in preview
    )
    assert buffer_for(app).pending() == pending  # looking at it recorded nothing
