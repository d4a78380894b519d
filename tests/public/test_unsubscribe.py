"""Unsubscribe links: the page (GET changes nothing) and the
RFC 8058 one-click POST (REQUIREMENTS A3-A7, I2)."""

import pytest
from sqlalchemy import select

from mailer import create_app
from mailer.consent.models import ConsentEvent, ConsentState
from mailer.contacts.models.suppression import Suppression
from mailer.core import urls as recipient_links
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription
from tests.public.recipients import news_list, path_of, sent_campaign, subscribed_contact, unsubscribe_path


@pytest.fixture
def ann(app_ctx):
    """Ann is on two lists with open tracking; a campaign was sent to her for the first list."""
    news, offers = news_list("News"), news_list("Offers")
    contact = subscribed_contact("ann@example.com", [news, offers], tracking=("open",), name="Ann")
    sent = sent_campaign(news, [contact])
    return contact, news, offers, sent.campaign


def statuses(contact):
    db.session.expire_all()
    return {
        s.mailing_list.name: s.status
        for s in db.session.execute(
            select(Subscription).where(Subscription.contact_id == contact.id)
        ).scalars()
    }


def withdrawals():
    return (
        db.session.execute(
            select(ConsentEvent).where(ConsentEvent.action == "withdrawn").order_by(ConsentEvent.id)
        )
        .scalars()
        .all()
    )


def test_get_shows_one_button_and_changes_nothing(app, ann):
    contact, news, _, campaign = ann
    client = app.test_client()
    path = unsubscribe_path(app, contact, news, campaign)
    for _ in range(2):  # mail software prefetches: two GETs leave the contact subscribed (A5)
        page = client.get(path)
        assert page.status_code == 200
        assert "Unsubscribe from “News”" in page.text
        assert page.text.count('type="submit"') == 1
        assert 'href="/p/' in page.text  # the preference centre
    assert statuses(contact) == {"News": "confirmed", "Offers": "confirmed"}
    assert withdrawals() == []


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_without_cookies_unsubscribes_from_that_list(app, ann, encoding):
    contact, news, _, campaign = ann
    url = recipient_links.unsubscribe_url(contact.public_id, news.public_id, campaign.public_id)
    assert "=?" not in url and len(url) < 998
    path = path_of(url, app.config["MAILER_BASE_URL"])
    client = app.test_client(use_cookies=False)
    if encoding == "urlencoded":
        response = client.post(
            path,
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
            headers={"User-Agent": "GoogleOneClick/1.0"},
        )
    else:
        response = client.post(
            path, data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data"
        )
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert "You're unsubscribed" in response.text
    assert statuses(contact) == {"News": "unsubscribed", "Offers": "confirmed"}
    [event] = withdrawals()
    assert event.purpose_id == news.purpose.id and event.source == "one-click-unsubscribe"
    assert event.details == {"list": news.public_id, "campaign": campaign.public_id}
    assert db.session.get(ConsentState, (contact.id, news.purpose.id)).status == "withdrawn"
    assert db.session.execute(select(Suppression)).first() is None  # one list only, not everything

    again = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and "Location" not in again.headers
    assert len(withdrawals()) == 1  # idempotent (A6)


def test_button_on_the_page_unsubscribes(app, ann):
    contact, news, _, campaign = ann
    client = app.test_client()
    path = unsubscribe_path(app, contact, news, campaign)
    response = client.post(path)  # the page's form: no body fields, no CSRF token
    assert response.status_code == 200
    assert statuses(contact)["News"] == "unsubscribed"
    assert withdrawals()[0].source == "unsubscribe-page"
    assert "already unsubscribed" in client.get(path).text


def test_token_without_list_unsubscribes_from_everything_and_suppresses(app, ann):
    contact, _, _, campaign = ann
    response = app.test_client(use_cookies=False).post(
        unsubscribe_path(app, contact, None, campaign), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200 and "any more emails" in response.text
    assert statuses(contact) == {"News": "unsubscribed", "Offers": "unsubscribed"}
    assert db.session.execute(select(Suppression.reason)).scalar_one() == "unsubscribed"
    purposes = sorted(e.purpose.name for e in withdrawals())
    assert purposes == ["News", "Offers", "Open tracking"]  # one ledger event per withdrawn consent
    assert all(e.details["scope"] == "everything" for e in withdrawals())


def _flip_middle(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


@pytest.mark.parametrize(
    "mangle",
    [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), _flip_middle, lambda t: "nonsense"],
)
def test_tampered_token_changes_nothing(app, ann, mangle):
    contact, news, _, campaign = ann
    path = unsubscribe_path(app, contact, news, campaign)
    prefix, token = path.rsplit("/", 1)
    bad = f"{prefix}/{mangle(token)}"
    client = app.test_client(use_cookies=False)
    post = client.post(bad, data={"List-Unsubscribe": "One-Click"})
    assert post.status_code == 400 and "doesn't work" in post.text and "Location" not in post.headers
    assert client.get(bad).status_code == 400
    assert statuses(contact)["News"] == "confirmed" and withdrawals() == []


def test_token_of_another_purpose_is_refused(app, ann):
    contact, _, _, campaign = ann
    pixel = path_of(
        recipient_links.open_pixel_url(contact.public_id, campaign.public_id), app.config["MAILER_BASE_URL"]
    )
    token = pixel.rsplit("/", 1)[1]
    assert app.test_client().post(f"/u/{token}").status_code == 400
    assert withdrawals() == []


def test_route_has_no_trailing_slash_redirect(app, ann):
    contact, news, _, campaign = ann
    path = unsubscribe_path(app, contact, news, campaign)
    assert not path.endswith("/")
    response = app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and not response.headers.get("Location")


def test_link_signed_with_a_rotated_key_still_works(app, ann, database_url):
    contact, news, _, campaign = ann
    old_app = create_app(
        {"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "old-key"}
    )
    with old_app.app_context():
        old_url = recipient_links.unsubscribe_url(contact.public_id, news.public_id, campaign.public_id)
        db.session.remove()
    path = path_of(old_url, app.config["MAILER_BASE_URL"])
    assert app.test_client().post(path).status_code == 400  # unknown key: refused

    rotated = create_app(
        {
            "MAILER_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "new-key",
            "SECRET_KEY_FALLBACKS": ["old-key"],
        }
    )
    response = rotated.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert statuses(contact)["News"] == "unsubscribed"
    with rotated.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.config(RECIPIENT_TOKEN_MAX_AGE=-1)
def test_an_expired_link_still_unsubscribes(app, ann):
    """An opt-out is always honoured, however old the genuine link (CAN-SPAM asks for at least 30 days)."""
    contact, news, _, campaign = ann
    response = app.test_client().post(unsubscribe_path(app, contact, news, campaign))
    assert response.status_code == 200
    assert statuses(contact)["News"] == "unsubscribed"


def test_default_link_lifetime_is_long(app):
    assert app.config["RECIPIENT_TOKEN_MAX_AGE"] >= 180 * 24 * 3600


def test_erased_contact_gets_the_generic_answer(app, ann):
    from mailer.privacy.erasure import anonymise_contact

    contact, news, _, campaign = ann
    path = unsubscribe_path(app, contact, news, campaign)
    anonymise_contact(contact)
    db.session.commit()
    assert app.test_client().post(path).status_code == 400


@pytest.mark.parametrize("scope", ["list", "everything"])
def test_concurrent_one_click_posts_write_one_event_per_consent(app, ann, scope):
    """Mail providers may retry: simultaneous POSTs of one link still end in one withdrawal per consent."""
    from concurrent.futures import ThreadPoolExecutor

    contact, news, _, campaign = ann
    path = unsubscribe_path(app, contact, news if scope == "list" else None, campaign)

    def post(_):
        return (
            app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"}).status_code
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert set(pool.map(post, range(12))) == {200}
    events = [(e.purpose.name, e.action) for e in withdrawals()]
    expected = (
        [("News", "withdrawn")]
        if scope == "list"
        else [("News", "withdrawn"), ("Offers", "withdrawn"), ("Open tracking", "withdrawn")]
    )
    assert sorted(events) == expected
    from mailer.consent.ledger import verify_chain

    assert verify_chain().ok


@pytest.mark.parametrize("scope", ["list", "everything"])
def test_one_click_records_the_privacy_notice_in_force(app, ann, scope):
    """The withdrawal names the notice version the person was under when they left (source and notice, F3)."""
    from mailer.privacy.notice import current_notice

    contact, news, _, campaign = ann
    notice = current_notice()
    db.session.commit()
    path = unsubscribe_path(app, contact, news if scope == "list" else None, campaign)
    assert (
        app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"}).status_code
        == 200
    )
    events = withdrawals()
    assert len(events) == (1 if scope == "list" else 3)
    assert {(e.source, e.notice_id) for e in events} == {("one-click-unsubscribe", notice.id)}
    assert events[0].notice.version == notice.version


@pytest.mark.parametrize("scope", ["list", "everything"])
def test_one_click_records_the_notice_of_the_contacts_language(app, ann, scope):
    """An Italian reader was shown the Italian notice: the withdrawal names its version (issue 16)."""
    from mailer.privacy.notice import current_notice

    contact, news, _, campaign = ann
    contact.language = "it"
    english, italian = current_notice(), current_notice("it")
    db.session.commit()
    path = unsubscribe_path(app, contact, news if scope == "list" else None, campaign)
    answer = app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    events = withdrawals()
    assert len(events) == (1 if scope == "list" else 3)
    assert {(e.notice.key, e.notice.version) for e in events} == {("privacy-notice:it", italian.version)}
    assert english.id != italian.id


def test_many_people_leaving_at_once_are_each_recorded_and_the_chain_holds(app, ann):
    """Concurrent one-click POSTs of different people share
    commits; each is durable, chained and idempotent."""
    from concurrent.futures import ThreadPoolExecutor

    from mailer.consent.ledger import verify_chain

    _, news, _, campaign = ann
    people = [subscribed_contact(f"p{i}@example.com", [news]) for i in range(16)]
    paths = [unsubscribe_path(app, person, news, campaign) for person in people]

    def post(path):
        response = app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
        return response.status_code, "You're unsubscribed" in response.text

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(post, paths + paths)) == {
            (200, True)
        }  # every link twice: a mail provider's retry
    assert all(statuses(person) == {"News": "unsubscribed"} for person in people)
    events = withdrawals()
    assert sorted(e.contact_id for e in events) == sorted(p.id for p in people)  # one event each, no more
    assert all(db.session.get(ConsentState, (p.id, news.purpose.id)).status == "withdrawn" for p in people)
    assert verify_chain().ok


def test_a_group_commit_with_odd_text_and_odd_jobs_is_recorded_as_the_ledger_verifies(app, ann):
    """One group of one-list unsubscribes (on PostgreSQL, one statement of migration 0011): an unusual address
    and hostile request text end up in events whose hashes `consent verify` recomputes; a repeated link in the
    group acts once, an unknown person is left to the request, an erased one gets the generic answer."""
    from mailer.consent.ledger import RequestContext, verify_chain
    from mailer.privacy.erasure import anonymise_contact
    from mailer.subscriptions.leaving import ListJob, list_unsubscribes

    contact, news, offers, campaign = ann
    zoe = subscribed_contact("zoë.o'neil+ünï@exämple.com", [news, offers])
    gone = subscribed_contact("gone@example.com", [news])
    anonymise_contact(gone)
    db.session.commit()
    ctx = RequestContext("one-click-unsubscribe", "2001:db8::1", 'UA "x" \\ \t — ✉ \u2028 \x01 <script>')
    jobs = [
        ListJob(zoe.public_id, news.public_id, campaign.public_id, ctx),
        ListJob(contact.public_id, offers.public_id, None, ctx),
        ListJob(zoe.public_id, news.public_id, campaign.public_id, ctx),
        ListJob("nobody0000000000", news.public_id, None, ctx),
        ListJob(gone.public_id, news.public_id, None, ctx),
    ]
    with app.app_context():
        list_unsubscribes()._commit(jobs)
    assert [(job.status, job.list_name) for job in jobs] == [
        ("done", "News"),
        ("done", "Offers"),
        ("already", "News"),
        ("recheck", None),
        ("invalid", None),
    ]
    assert statuses(zoe) == {"News": "unsubscribed", "Offers": "confirmed"}
    assert statuses(contact) == {"News": "confirmed", "Offers": "unsubscribed"}
    events = withdrawals()
    assert sorted((e.contact_id, e.purpose.name, e.details) for e in events) == [
        (contact.id, "Offers", {"list": offers.public_id, "campaign": None}),
        (zoe.id, "News", {"list": news.public_id, "campaign": campaign.public_id}),
    ]
    assert {(e.email, e.user_agent, e.ip) for e in events} == {
        ("ann@example.com", ctx.user_agent, ctx.ip),
        ("zoë.o'neil+ünï@exämple.com", ctx.user_agent, ctx.ip),
    }
    report = verify_chain()
    assert report.ok, report.reason


def test_a_link_to_a_deleted_list_unsubscribes_from_everything(app, ann):
    """The list the message was sent for is gone: the only
    safe reading is 'everything' (and a suppression)."""
    from types import SimpleNamespace

    contact, _, _, campaign = ann
    path = unsubscribe_path(
        app, contact, SimpleNamespace(public_id="gone0000000000000000000000000000"), campaign
    )
    response = app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "any more emails" in response.text
    assert statuses(contact) == {"News": "unsubscribed", "Offers": "unsubscribed"}
    assert db.session.execute(select(Suppression.reason)).scalar_one() == "unsubscribed"
