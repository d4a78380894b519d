"""The whole double opt-in: form → confirmation email over real SMTP → confirm → ledger and proof."""

from sqlalchemy import select

from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription
from tests.support.http import confirm_link, consent_values, form_timer


def sign_up(client, email="ann@example.com", name="Ann", consents=None, **extra):
    data = {"email": email, "name": name, "ts": form_timer(client), "website": ""}
    data["consent"] = consents if consents is not None else consent_values(client)[:1]
    data.update(extra)
    return client.post("/f/demo", data=data, headers={"User-Agent": "TestBrowser/1.0"})


def test_signup_confirmation_email_arrives_and_confirms(app, client, demo_form, worker, smtp_server):
    response = sign_up(client)
    assert response.status_code == 200
    assert "check your inbox" in response.text.lower()
    worker.drain()

    [received] = smtp_server.to("ann@example.com")
    msg = received.message
    assert msg["Subject"] == "Please confirm your subscription to Mailer Demo"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg["Date"]
    assert "List-Unsubscribe" not in msg  # transactional: no one-click headers (A7)
    link = confirm_link(received.data, app.config["MAILER_BASE_URL"])
    path = link[len(app.config["MAILER_BASE_URL"]) :]

    # A GET (a link scanner's prefetch) shows a button and changes nothing.
    page = client.get(path)
    assert page.status_code == 200 and "Yes, confirm my subscription" in page.text
    sub = db.session.execute(select(Subscription)).scalar_one()
    assert sub.status == "pending"

    done = client.post(path, headers={"User-Agent": "TestBrowser/2.0"})
    assert done.status_code == 200 and "you're subscribed" in done.text
    db.session.expire_all()
    assert db.session.execute(select(Subscription)).scalar_one().status == "confirmed"
    actions = [
        (e.action, e.user_agent)
        for e in db.session.execute(select(ConsentEvent).order_by(ConsentEvent.id)).scalars()
    ]
    assert actions == [
        ("requested", "TestBrowser/1.0"),
        ("confirmation_sent", None),
        ("confirmed", "TestBrowser/2.0"),
    ]
    sent = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.action == "confirmation_sent")
    ).scalar_one()
    assert sent.details["message_id"] == msg["Message-ID"]

    # Using the link again is harmless.
    again = client.post(path)
    assert again.status_code == 200 and "already confirmed" in again.text


def test_unconfirmed_contact_stays_pending(app, client, demo_form, worker):
    sign_up(client, email="bob@example.com")
    worker.drain()
    contact = db.session.execute(select(Contact)).scalar_one()
    assert contact.email == "bob@example.com"
    assert [s.status for s in contact.subscriptions] == ["pending"]
