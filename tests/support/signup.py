"""Signing up through the hosted form as a browser would, and looking at what it left behind."""

import base64
import html
import json
import re

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from mailer.consent.models import ConsentEvent, ConsentState
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.subscriptions.models.lists import Subscription
from tests.support.http import consent_values, form_timer

BROWSER = "TestBrowser/1.0"


def sign_up(client, email="ann@example.com", name="Ann", slug="demo", consents=None, headers=None, **fields):
    """Fill and submit a hosted form; by default ticks the first box (the list) only."""
    data = {"email": email, "name": name, "ts": form_timer(client, slug), "website": ""}
    data["consent"] = consent_values(client, slug)[:1] if consents is None else consents
    data.update(fields)
    return client.post(f"/f/{slug}", data=data, headers={"User-Agent": BROWSER, **(headers or {})})


def page(response) -> str:
    """A response's text as a person reads it (HTML entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def row_counts() -> dict[str, int]:
    """How many rows the sign-up flow's tables hold (to prove that nothing was half-written)."""
    db.session.expire_all()
    models = {
        "contacts": Contact,
        "subscriptions": Subscription,
        "consent_events": ConsentEvent,
        "consent_states": ConsentState,
        "outbox": OutboxMessage,
    }
    return {
        name: db.session.execute(select(func.count()).select_from(model)).scalar_one()
        for name, model in models.items()
    }


def queued_messages(app) -> int:
    """How many messages (e.g. confirmation emails) the app has handed to its broker so far."""
    from tests.support.workers import _recorder

    return _recorder(app.extensions["mailer.workers"].broker).enqueued


def contact_by_email(email: str) -> Contact:
    db.session.expire_all()
    return db.session.execute(select(Contact).where(Contact.email == email)).scalar_one()


def outbox_to(address: str) -> list[OutboxMessage]:
    """Messages the local outbox holds for one recipient, oldest first."""
    db.session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.rcpt_to == address).order_by(OutboxMessage.id)
    return list(db.session.execute(query).scalars())


def path_of(url: str, base: str) -> str:
    assert url.startswith(base), url
    return url[len(base) :]


def token_payload(token: str):
    """Decode the (signed, not encrypted) payload of an
    itsdangerous token, as anyone holding the link could."""
    body = token.split(".")[0]
    if body.startswith("."):
        body = body[1:]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def signed_at(secret_key: str, purpose: str, payload, timestamp: float) -> str:
    """A token as the app would have signed it at `timestamp` (to test expiry without waiting)."""

    class FixedClock(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(timestamp)

    return URLSafeTimedSerializer(secret_key, salt=f"mailer.{purpose}", signer=FixedClock).dumps(payload)


def hidden_value(html: str, name: str) -> str:
    """The value of a hidden input on a page."""
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no hidden field {name!r} on the page"
    return match.group(1)
