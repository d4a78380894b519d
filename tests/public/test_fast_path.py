"""The recipient fast path (mailer/public/fast_path.py): the regular pixel, click and one-click requests are
answered without Flask's request cycle, exactly as the Flask views answer them; everything else reaches
Flask."""

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from mailer.core.extensions import db
from mailer.public.fast_path import RecipientFastPath
from mailer.subscriptions.models.lists import Subscription
from mailer.tracking.buffer import buffer_for
from tests.public.recipients import (
    click_path,
    news_list,
    open_path,
    sent_campaign,
    subscribed_contact,
    unsubscribe_path,
)

UA = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"}
ONE_CLICK = {"data": "List-Unsubscribe=One-Click", "content_type": "application/x-www-form-urlencoded"}


@pytest.fixture
def people(app_ctx):
    """Ann and Bob consent to tracking and received a campaign for News."""
    news = news_list("News")
    ann = subscribed_contact("ann@example.com", [news], tracking=("open", "click"))
    bob = subscribed_contact("bob@example.com", [news], tracking=("open", "click"))
    return ann, bob, news, sent_campaign(news, [ann, bob])


@pytest.fixture
def flask_requests(app):
    """How many requests went through Flask's request cycle."""
    seen = []
    app.before_request(lambda: seen.append(1) and None)
    return seen


def _through_flask_only(app) -> Client:
    fast = app.wsgi_app
    assert isinstance(fast, RecipientFastPath)
    return Client(fast.flask, response_wrapper=app.response_class)


def _status(contact) -> str:
    db.session.expire_all()
    return db.session.execute(
        select(Subscription.status).where(Subscription.contact_id == contact.id)
    ).scalar_one()


def _same_answer(fast, slow):
    """Status, headers and body alike; but `Vary: Cookie`, which Flask adds because Flask-Login's
    after-request hook reads the (empty) session: these answers depend on no cookie."""
    assert fast.status_code == slow.status_code
    assert sorted(fast.headers.items()) == sorted(
        (k, v) for k, v in slow.headers.items() if (k, v) != ("Vary", "Cookie")
    )
    assert fast.data == slow.data


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_regular_requests_skip_flask_and_are_answered_as_flask_answers_them(
    app, people, flask_requests, scheme
):
    ann, bob, news, sent = people
    fast = app.test_client(use_cookies=False)
    slow = _through_flask_only(app)
    base = f"{scheme}://localhost"
    buffered = buffer_for(app).pending()

    _same_answer(
        fast.get(open_path(app, ann, sent.campaign), headers=UA, base_url=base),
        slow.get(open_path(app, bob, sent.campaign), headers=UA, base_url=base),
    )
    link = sent.links[0]
    click = fast.get(click_path(app, ann, sent.campaign, link), headers=UA, base_url=base)
    assert click.status_code == 302 and click.headers["Location"] == link.url
    _same_answer(click, slow.get(click_path(app, bob, sent.campaign, link), headers=UA, base_url=base))
    left = fast.post(unsubscribe_path(app, ann, news, sent.campaign), headers=UA, base_url=base, **ONE_CLICK)
    assert left.status_code == 200 and "You're unsubscribed" in left.text and "Location" not in left.headers
    _same_answer(
        left,
        slow.post(unsubscribe_path(app, bob, news, sent.campaign), headers=UA, base_url=base, **ONE_CLICK),
    )

    assert len(flask_requests) == 3  # only the requests sent to Flask on purpose
    assert buffer_for(app).pending() == buffered + 4  # two opens, two clicks: every one buffered
    assert _status(ann) == _status(bob) == "unsubscribed"
    assert ("Strict-Transport-Security" in left.headers) == (scheme == "https")


def test_everything_else_goes_to_flask(app, people, flask_requests):
    ann, bob, news, sent = people
    client = app.test_client(use_cookies=False)
    pixel = open_path(app, ann, sent.campaign)
    click = click_path(app, ann, sent.campaign, sent.links[0])
    leave = unsubscribe_path(app, ann, news, sent.campaign)

    assert client.head(pixel).status_code == 200
    assert client.get(pixel + "?x=1").status_code == 200
    tampered = client.get(click[:-3] + ("AAA" if not click.endswith("AAA") else "BBB"))
    assert tampered.status_code == 404 and "lead anywhere we know" in tampered.text
    assert client.post(leave[:-3] + "AAA", **ONE_CLICK).status_code == 400
    assert (
        client.post(
            leave, data="List-Unsubscribe=One-Click&x=1", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )
    assert len(flask_requests) == 5 and _status(ann) == "unsubscribed"

    multipart = client.post(
        unsubscribe_path(app, bob, news, sent.campaign),
        data={"List-Unsubscribe": "One-Click"},
        content_type="multipart/form-data",
    )
    assert multipart.status_code == 200 and "You're unsubscribed" in multipart.text
    assert len(flask_requests) == 6 and _status(bob) == "unsubscribed"
    oversized = client.post(
        leave,
        data="List-Unsubscribe=One-Click" + "&x=" + "y" * 5000,
        content_type="application/x-www-form-urlencoded",
    )
    assert oversized.status_code == 200 and len(flask_requests) == 7


@pytest.mark.config(PROXY_FIX_X_FOR=1)
def test_behind_a_proxy_the_ledger_records_the_clients_address_on_either_path(app, people):
    """The fast path sits inside ProxyFix: it sees the client's address, as the Flask views do."""
    from mailer.consent.models import ConsentEvent

    ann, bob, news, sent = people
    client = app.test_client(use_cookies=False)
    proxied = {"X-Forwarded-For": "203.0.113.7", **UA}
    assert (
        client.post(unsubscribe_path(app, ann, news, sent.campaign), headers=proxied, **ONE_CLICK).status_code
        == 200
    )
    assert (
        client.post(
            unsubscribe_path(app, bob, news, sent.campaign),
            headers=proxied,
            data={"List-Unsubscribe": "One-Click"},
            content_type="multipart/form-data",
        ).status_code
        == 200
    )
    db.session.expire_all()
    events = db.session.execute(
        select(ConsentEvent.contact_id, ConsentEvent.ip).where(ConsentEvent.action == "withdrawn")
    ).all()
    assert sorted(events) == sorted([(ann.id, "203.0.113.7"), (bob.id, "203.0.113.7")])
