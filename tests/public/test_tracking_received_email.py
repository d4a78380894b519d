"""The links of a campaign email as it arrived over SMTP:
one-click unsubscribe, pixel, clicks, preferences."""

import html as html_lib
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Link
from mailer.consent.models import ConsentEvent
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from mailer.subscriptions.models.lists import Subscription
from mailer.tracking import events as tracking
from mailer.tracking.models import TrackingEvent
from tests.support.campaigns import make_campaign, subscriber

URL = re.compile(r"""https?://[^\s"'<>]+""")


def raw_header(data: bytes, name: str) -> bytes:
    head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    match = re.search(rb"^" + name.encode() + rb":(.*?)\r\n(?![ \t])", head, re.M | re.S | re.I)
    assert match, f"no {name} header"
    return match.group(1)


@pytest.fixture
def received(app, app_ctx, worker, smtp_server):
    """Ann (open and click tracking consent) and Bob (none) received a tracked campaign over real SMTP."""
    ensure_tracking_purposes()
    news = create_list("News")
    ann = subscriber(news, "ann@example.net", "Ann Lee", tracking=("tracking:open", "tracking:click"))
    bob = subscriber(news, "bob@example.net", "Bob Roe")
    campaign = make_campaign([news], track_opens=True, track_clicks=True)
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    return {
        "ann": (ann, smtp_server.to("ann@example.net")[0]),
        "bob": (bob, smtp_server.to("bob@example.net")[0]),
        "campaign": campaign,
        "list": news,
    }


def local(app, url: str) -> str:
    base = app.config["MAILER_BASE_URL"]
    assert url.startswith(base), url
    return url[len(base) :]


def urls_in(message) -> list[str]:
    found = []
    for part in (message.get_body(("html",)), message.get_body(("plain",))):
        found += [html_lib.unescape(u).rstrip(".,)") for u in URL.findall(part.get_content())]
    return found


def test_one_click_unsubscribe_from_the_raw_header(app, received):
    ann, mail = received["ann"]
    header = raw_header(mail.data, "List-Unsubscribe")
    url = re.fullmatch(rb" <(https?://[^>]+)>, <mailto:[^>]+>", header).group(1).decode()
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    client = app.test_client(use_cookies=False)
    response = client.post(
        local(app, url), data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and "Location" not in response.headers
    db.session.expire_all()
    sub = db.session.execute(select(Subscription).where(Subscription.contact_id == ann.id)).scalar_one()
    assert sub.status == "unsubscribed"
    event = db.session.execute(select(ConsentEvent).where(ConsentEvent.action == "withdrawn")).scalar_one()
    assert event.details == {"list": received["list"].public_id, "campaign": received["campaign"].public_id}


@pytest.mark.config(TRACKING_MACHINE_SECONDS=0)
def test_consenting_recipient_pixel_and_clicks_are_recorded(app, received):
    ann, mail = received["ann"]
    urls = urls_in(mail.message)
    pixel = [u for u in urls if "/t/o/" in u]
    clicks = list(dict.fromkeys(u for u in urls if "/t/c/" in u))
    assert len(pixel) == 1 and len(clicks) == 2
    client = app.test_client()
    ua = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
    assert client.get(local(app, pixel[0]), headers=ua).mimetype == "image/gif"
    targets = [client.get(local(app, u), headers=ua).headers["Location"] for u in clicks]
    links = (
        db.session.execute(select(Link.url).where(Link.campaign_id == received["campaign"].id))
        .scalars()
        .all()
    )
    assert sorted(targets) == sorted(links)
    tracking.flush_events()
    events = db.session.execute(select(TrackingEvent).order_by(TrackingEvent.id)).scalars().all()
    assert [(e.kind, e.contact_id, e.machine) for e in events] == [
        ("open", ann.id, False),
        ("click", ann.id, False),
        ("click", ann.id, False),
    ]


def test_recipient_without_consent_gets_no_pixel_and_no_identifying_link(app, received):
    _bob, mail = received["bob"]
    links = set(
        db.session.execute(select(Link.url).where(Link.campaign_id == received["campaign"].id)).scalars()
    )
    html = mail.message.get_body(("html",)).get_content()
    assert "/t/o/" not in html and "/t/c/" not in html and "<img" not in html
    for url in urls_in(mail.message):
        path = urlsplit(url).path
        # Only the unsubscribe and preference links (which must identify him) carry anything about Bob.
        assert url in links or path.startswith(("/u/", "/p/")), url
    prefs = next(u for u in urls_in(mail.message) if "/p/" in u)
    page = app.test_client().get(local(app, prefs))
    assert page.status_code == 200 and "bob@example.net" in page.text


@pytest.mark.config(TRACKING_ANONYMOUS_COUNTS=True)
def test_anonymous_counts_give_a_recipient_without_consent_the_same_link_as_everyone(app, received):
    """The opt-in setting: Bob's links go through
    /t/a/<campaign>/<link>, which names nobody and counts a total."""
    bob, mail = received["bob"]
    campaign = received["campaign"]
    html = mail.message.get_body(("html",)).get_content()
    assert "/t/o/" not in html and "/t/c/" not in html and "<img" not in html
    anonymous = sorted({u for u in urls_in(mail.message) if "/t/a/" in u})
    links = (
        db.session.execute(select(Link).where(Link.campaign_id == campaign.id).order_by(Link.id))
        .scalars()
        .all()
    )
    assert anonymous == sorted(
        f"{app.config['MAILER_BASE_URL']}/t/a/{campaign.public_id}/{link.id}" for link in links
    )
    assert bob.public_id not in " ".join(anonymous)
    client = app.test_client(use_cookies=False)
    assert [client.get(local(app, url)).headers["Location"] for url in anonymous] == [
        link.url for link in links
    ]
    tracking.flush_events()
    assert db.session.execute(select(TrackingEvent)).first() is None  # no per-person event
    from mailer.tracking.models import TrackingCounter

    counts = db.session.execute(select(TrackingCounter.link_id, TrackingCounter.count)).all()
    assert sorted(counts) == [(link.id, 1) for link in links]
    # Ann consented: her links stay personal and tracked, never the anonymous ones.
    assert not [u for u in urls_in(received["ann"][1].message) if "/t/a/" in u]
