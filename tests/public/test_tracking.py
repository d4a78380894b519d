"""Consent-gated tracking: the pixel, click redirects,
batching, machine-like events, retention (F8, F9, F6)."""

import itertools
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mailer.campaigns.models import Link
from mailer.consent.ledger import RequestContext, record_consent
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.tracking import events as tracking
from mailer.tracking.models import TrackingCounter, TrackingEvent
from tests.public.recipients import (
    click_path,
    news_list,
    open_path,
    sent_campaign,
    subscribed_contact,
    tracking_purposes,
)

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@pytest.fixture
def seeded(app_ctx):
    """Ann consents to open and click tracking, Bob to nothing; both received the campaign an hour ago."""
    news = news_list()
    ann = subscribed_contact("ann@example.com", [news], tracking=("open", "click"))
    bob = subscribed_contact("bob@example.com", [news])
    sent = sent_campaign(news, [ann, bob])
    return ann, bob, sent


def events(**filters):
    db.session.expire_all()
    query = select(TrackingEvent).order_by(TrackingEvent.id)
    for key, value in filters.items():
        query = query.where(getattr(TrackingEvent, key) == value)
    return db.session.execute(query).scalars().all()


def get(app, path, ua=BROWSER):
    return app.test_client().get(path, headers={"User-Agent": ua})


def test_pixel_records_an_open_only_with_consent(app, seeded):
    ann, bob, sent = seeded
    for contact in (ann, bob):
        response = get(app, open_path(app, contact, sent.campaign))
        assert response.status_code == 200
        assert response.mimetype == "image/gif" and response.data == tracking.PIXEL_GIF
        assert "no-store" in response.headers["Cache-Control"]
    assert tracking.flush_events() == 2
    [event] = events()
    assert (event.kind, event.contact_id, event.campaign_id, event.machine) == (
        "open",
        ann.id,
        sent.campaign.id,
        False,
    )
    assert event.user_agent_class == "browser"


@pytest.mark.parametrize("token", ["nonsense", "a.b.c", "x" * 600])
def test_pixel_with_a_bad_token_is_still_a_gif(app, seeded, token):
    response = get(app, f"/t/o/{token}")
    assert response.status_code == 200 and response.data == tracking.PIXEL_GIF
    tracking.flush_events()
    assert events() == []


def test_withdrawn_consent_stops_recording_at_once(app, seeded):
    ann, _, sent = seeded
    record_consent(ann, tracking_purposes()["open"], "withdrawn", RequestContext("preference-centre"))
    db.session.commit()
    assert get(app, open_path(app, ann, sent.campaign)).status_code == 200
    tracking.flush_events()
    assert events() == []


def test_click_redirects_to_the_campaign_link_and_records_with_consent(app, seeded):
    ann, bob, sent = seeded
    link = sent.links[1]
    for contact in (ann, bob):
        response = get(app, click_path(app, contact, sent.campaign, link))
        assert response.status_code == 302
        assert response.headers["Location"] == "https://example.org/shop?x=1&y=2"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    tracking.flush_events()
    [event] = events()
    assert (event.kind, event.contact_id, event.link_id) == ("click", ann.id, link.id)


def test_click_tokens_cannot_redirect_anywhere_else(app, seeded):
    ann, _, sent = seeded
    other = sent_campaign(sent.mailing_list, [ann], urls=["https://other.example/"], name="Other")
    unsafe = Link(campaign_id=sent.campaign.id, url="javascript:alert(1)")
    db.session.add(unsafe)
    db.session.commit()
    good = click_path(app, ann, sent.campaign, sent.links[0])
    token = good.rsplit("/", 1)[1]
    attempts = [
        "/t/c/" + token[:-3] + "abc",  # tampered signature
        click_path(app, ann, sent.campaign, other.links[0]),  # a genuine link id of another campaign
        click_path(app, ann, sent.campaign, unsafe),  # not a web address
        "/t/c/" + token.replace(".", "", 1),
    ]
    for path in [*attempts, "/t/c/https%3A%2F%2Fevil.example"]:
        response = get(app, path)
        assert response.status_code == 404, path
        assert "Location" not in response.headers
        assert "lead anywhere we know" in response.text or path not in attempts
    tracking.flush_events()
    assert events() == []


def test_events_are_buffered_and_written_in_batches(app, seeded):
    ann, _, sent = seeded
    app.config["TRACKING_FLUSH_SECONDS"] = 3600  # the writer thread waits; only flush_events() writes
    app.extensions.pop("mailer.tracking_buffer", None)
    for _ in range(5):
        get(app, open_path(app, ann, sent.campaign))
    assert events() == []  # nothing written inside the requests
    assert tracking.flush_events() == 5
    assert len(events(kind="open")) == 5


def test_machine_like_events_are_marked(app, seeded):
    ann, _, sent = seeded
    get(app, open_path(app, ann, sent.campaign), ua="Mozilla/5.0")  # Apple MPP proxy
    get(app, open_path(app, ann, sent.campaign), ua="Barracuda Sentinel (EE)")  # security scanner
    get(app, open_path(app, ann, sent.campaign), ua="")  # no user agent
    get(
        app,
        open_path(app, ann, sent.campaign),
        ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64) GoogleImageProxy",
    )
    tracking.flush_events()
    assert [(e.machine, e.machine_reason, e.user_agent_class) for e in events()] == [
        (True, "apple-mpp", "apple-mpp"),
        (True, "scanner", "scanner"),
        (True, "empty", "empty"),
        (False, "", "image-proxy"),
    ]


def test_open_right_after_send_is_machine_like(app, app_ctx):
    news = news_list()
    ann = subscribed_contact("ann@example.com", [news], tracking=("open", "click"))
    sent = sent_campaign(news, [ann], sent_minutes_ago=0)  # delivered seconds ago
    get(app, open_path(app, ann, sent.campaign))
    tracking.flush_events()
    [event] = events()
    assert event.machine and event.machine_reason == "right-after-send"


def test_clicks_on_every_link_within_a_second_are_a_scanner(app, seeded, monkeypatch):
    ann, _, sent = seeded
    more = [Link(campaign_id=sent.campaign.id, url=f"https://example.org/{i}") for i in range(2)]
    db.session.add_all(more)
    db.session.commit()
    # The clicks' own times, 100 ms apart, however slowly a loaded machine answers the four requests (CI once
    # took over a second for them, and the burst was a person's).
    start, steps = utcnow(), itertools.count()
    monkeypatch.setattr(tracking, "utcnow", lambda: start + timedelta(milliseconds=100 * next(steps)))
    get(app, click_path(app, ann, sent.campaign, sent.links[0]))
    tracking.flush_events()  # the first click is already stored when the burst is noticed
    for link in [sent.links[1], *more]:
        get(app, click_path(app, ann, sent.campaign, link))
    tracking.flush_events()
    clicks = events(kind="click")
    assert len(clicks) == 4
    assert all(e.machine and e.machine_reason == "click-burst" for e in clicks)


def test_a_person_clicking_two_links_is_human(app, seeded):
    ann, _, sent = seeded
    for link in sent.links:
        get(app, click_path(app, ann, sent.campaign, link))
    tracking.flush_events()
    assert [e.machine for e in events()] == [False, False]


def test_restricted_or_erased_contacts_are_not_tracked(app, seeded):
    from mailer.privacy.erasure import anonymise_contact

    ann, _, sent = seeded
    ann.status = "restricted"
    db.session.commit()
    get(app, open_path(app, ann, sent.campaign))
    tracking.flush_events()
    assert events() == []
    anonymise_contact(ann)
    db.session.commit()
    get(app, open_path(app, ann, sent.campaign))
    tracking.flush_events()
    assert events() == []


def test_human_activity_is_noted_on_the_contact(app, seeded):
    ann, _, sent = seeded
    before = ann.last_activity_at
    get(app, open_path(app, ann, sent.campaign))
    tracking.flush_events()
    db.session.refresh(ann)
    assert ann.last_activity_at is not None and ann.last_activity_at != before


def test_anonymous_counts_are_off_by_default(app, seeded):
    _, _, sent = seeded
    link = sent.links[0]
    response = get(app, f"/t/a/{sent.campaign.public_id}/{link.id}")
    assert response.status_code == 302 and response.headers["Location"] == link.url
    tracking.flush_events()
    assert db.session.execute(select(TrackingCounter)).first() is None
    assert get(app, f"/t/a/{sent.campaign.public_id}/999999").status_code == 404


@pytest.mark.config(TRACKING_ANONYMOUS_COUNTS=True)
def test_anonymous_counts_identify_nobody(app, seeded):
    _, _, sent = seeded
    link = sent.links[0]
    path = tracking.anonymous_click_path(sent.campaign.public_id, link.id)
    for _ in range(3):
        assert get(app, path).status_code == 302
    tracking.flush_events()
    [counter] = db.session.execute(select(TrackingCounter)).scalars().all()
    assert (counter.campaign_id, counter.link_id, counter.count) == (sent.campaign.id, link.id, 3)
    assert events() == []  # no per-person event


def test_retention_deletes_old_events(app, seeded):
    ann, _, sent = seeded
    old = utcnow() - timedelta(days=400)
    db.session.add_all(
        [
            TrackingEvent(campaign_id=sent.campaign.id, contact_id=ann.id, kind="open", created_at=old),
            TrackingEvent(campaign_id=sent.campaign.id, contact_id=ann.id, kind="open"),
        ]
    )
    db.session.commit()
    assert tracking.purge_tracking_events(dry_run=True) == {"tracking_events": 1}
    assert len(events()) == 2
    assert tracking.purge_tracking_events() == {"tracking_events": 1}
    assert [e.created_at > old for e in events()] == [True]


def test_retention_follows_the_privacy_settings(app, seeded):
    from mailer.privacy.models.settings import PrivacySettings

    ann, _, sent = seeded
    db.session.add(
        TrackingEvent(
            campaign_id=sent.campaign.id,
            contact_id=ann.id,
            kind="open",
            created_at=utcnow() - timedelta(days=40),
        )
    )
    db.session.commit()
    assert tracking.tracking_retention_days() == app.config["TRACKING_RETENTION_DAYS"] == 365
    assert tracking.purge_tracking_events(dry_run=True) == {"tracking_events": 0}
    db.session.add(PrivacySettings(id=1, retention={"tracking_events": 30}))
    db.session.commit()
    assert tracking.tracking_retention_days() == 30
    assert tracking.purge_tracking_events() == {"tracking_events": 1}


def test_buffered_events_are_written_on_normal_shutdown(app, seeded, database_url):
    """A web process that exits normally flushes its buffer (atexit), so no event is lost."""
    ann, _, sent = seeded
    path = open_path(app, ann, sent.campaign)
    script = textwrap.dedent(f"""
        from mailer import create_app
        app = create_app({{"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": {database_url!r},
                          "TRACKING_FLUSH_SECONDS": 3600}})
        client = app.test_client()
        for _ in range(7):
            assert client.get({path!r}, headers={{"User-Agent": "Browser/1.0"}}).status_code == 200
        from mailer.tracking.buffer import buffer_for
        assert buffer_for(app).pending() == 7
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, cwd=app.root_path + "/..")
    assert db.session.execute(select(func.count(TrackingEvent.id))).scalar_one() == 7
