"""F9: an Apple Mail Privacy Protection prefetch or a link scanner is not the person: the pixel and the click
redirect still answer, the event is kept and marked, but the contact's activity date does not move."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.campaigns.models import Link
from mailer.contacts.models.contact import Contact
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.tracking import events as tracking
from mailer.tracking.models import TrackingEvent
from mailer.tracking.recording import CLICK_SETTLE, settle_clicks
from tests.public.recipients import click_path, news_list, open_path, sent_campaign, subscribed_contact

APPLE_MPP = "Mozilla/5.0"  # what Apple's proxy sends when it preloads a message's images
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4"
SCANNERS = (
    "Barracuda Sentinel (EE)",
    "Mozilla/5.0 (compatible; Proofpoint URL Defense)",
    "Mimecast-URL-Protect/1.0",
    "python-requests/2.31.0",
)
LONG_AGO = timedelta(days=200)


@pytest.fixture
def quiet(app_ctx):
    """Ann consented to open and click tracking, received a campaign an hour ago, last active 200 days ago."""
    news = news_list()
    ann = subscribed_contact("ann@example.com", [news], tracking=("open", "click"))
    sent = sent_campaign(news, [ann], urls=[f"https://example.org/{i}" for i in range(4)])
    ann.last_activity_at = utcnow() - LONG_AGO
    db.session.commit()
    return ann, sent


def _activity(contact: Contact):
    db.session.expire_all()
    return db.session.get(Contact, contact.id).last_activity_at


def _events() -> list[tuple[str, bool, str]]:
    rows = db.session.execute(select(TrackingEvent).order_by(TrackingEvent.id)).scalars()
    return [(e.kind, e.machine, e.machine_reason) for e in rows]


def _get(app, path: str, user_agent: str):
    return app.test_client().get(path, headers={"User-Agent": user_agent})


def test_an_apple_privacy_protection_open_does_not_move_the_activity_date(app, quiet):
    ann, sent = quiet
    before = _activity(ann)
    response = _get(app, open_path(app, ann, sent.campaign), APPLE_MPP)
    assert response.status_code == 200 and response.data == tracking.PIXEL_GIF
    tracking.flush_events()
    assert _events() == [("open", True, "apple-mpp")]  # kept, marked, never dropped
    assert _activity(ann) == before


@pytest.mark.parametrize("user_agent", SCANNERS)
def test_a_link_scanner_does_not_move_the_activity_date(app, quiet, user_agent):
    ann, sent = quiet
    before = _activity(ann)
    assert _get(app, open_path(app, ann, sent.campaign), user_agent).status_code == 200
    click = _get(app, click_path(app, ann, sent.campaign, sent.links[0]), user_agent)
    assert click.status_code == 302 and click.headers["Location"] == sent.links[0].url
    tracking.flush_events()
    assert _events() == [("open", True, "scanner"), ("click", True, "scanner")]
    assert _activity(ann) == before


def test_a_scanner_following_every_link_with_a_browser_user_agent_does_not_move_the_activity_date(app, quiet):
    """Some scanners pretend to be a browser; clicking every link within a second gives them away, even when
    the buffer happened to write the first click before the others arrived."""
    ann, sent = quiet
    before = _activity(ann)
    links: list[Link] = sent.links
    _get(app, click_path(app, ann, sent.campaign, links[0]), BROWSER)
    tracking.flush_events()
    for link in links[1:]:
        _get(app, click_path(app, ann, sent.campaign, link), BROWSER)
    tracking.flush_events()
    assert [machine for _, machine, _ in _events()] == [True] * len(links)
    assert _activity(ann) == before


def test_the_person_opening_after_the_proxy_moves_the_activity_date(app, quiet):
    ann, sent = quiet
    before = _activity(ann)
    _get(app, open_path(app, ann, sent.campaign), APPLE_MPP)
    tracking.flush_events()
    assert _activity(ann) == before
    _get(app, open_path(app, ann, sent.campaign), BROWSER)
    tracking.flush_events()
    assert _activity(ann) > before + LONG_AGO - timedelta(minutes=5)


def test_the_person_clicking_one_link_moves_the_activity_date_once_no_burst_can_include_it(app, quiet):
    ann, sent = quiet
    before = _activity(ann)
    _get(app, click_path(app, ann, sent.campaign, sent.links[0]), BROWSER)
    tracking.flush_events()
    assert _events() == [("click", False, "")]
    # The writer settles clicks once their burst window has closed; here the window is closed by hand.
    settle_clicks(utcnow() - timedelta(minutes=1), utcnow() + CLICK_SETTLE)
    assert _activity(ann) > before + LONG_AGO - timedelta(minutes=5)
