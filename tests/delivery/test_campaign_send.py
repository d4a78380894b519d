"""A campaign through the real planner, worker, SMTP server and DKIM: what arrives, byte for byte."""

import re

import dkim
from sqlalchemy import select

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign, Link
from mailer.core.extensions import db
from mailer.delivery.replies import delivery_id_from_verp
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.support.campaigns import deliveries, make_campaign, subscriber

SINGLE = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "DKIM-Signature",
)


def _dkim_record(runner) -> bytes:
    """Create the domain's key with the operator command; return the TXT value it told us to publish."""
    result = runner.invoke(args=["dkim", "keygen", "example.com", "--selector", "s2026"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "._domainkey." in line)
    assert line.startswith("s2026._domainkey.example.com. IN TXT")
    return "".join(re.findall(r'"([^"]*)"', line)).encode()


def _raw_header(data: bytes, name: str) -> bytes:
    """A header exactly as it is on the wire, continuation lines included."""
    head = data.split(b"\r\n\r\n", 1)[0]
    match = re.search(rb"^" + name.encode() + rb":(.*?)\r\n(?![ \t])", head + b"\r\n", re.M | re.S | re.I)
    assert match, f"no {name} header"
    return match.group(1)


def test_campaign_arrives_signed_with_one_click_unsubscribe(app, app_ctx, runner, worker, smtp_server):
    record = _dkim_record(runner)
    ensure_tracking_purposes()
    news = create_list("News")
    ann = subscriber(news, "ann@example.net", "Ann Lee", tracking=("tracking:open", "tracking:click"))
    bob = subscriber(news, "bob@example.net", None)
    campaign = make_campaign([news], track_opens=True, track_clicks=True)
    db.session.commit()

    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()

    assert {m.rcpt_tos[0] for m in smtp_server.messages} == {"ann@example.net", "bob@example.net"}
    by_contact = {d.contact_id: d for d in deliveries(campaign)}
    for contact in (ann, bob):
        [received] = smtp_server.to(contact.email)
        data, msg = received.data, received.message
        # DKIM: verifies offline with dkimpy, relaxed/relaxed, both unsubscribe headers signed, never l=.
        assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record)
        signature = _raw_header(data, "DKIM-Signature").decode()
        tags = dict(t.strip().split("=", 1) for t in re.sub(r"\s+", "", signature).split(";") if t.strip())
        assert tags["c"] == "relaxed/relaxed" and tags["a"] == "rsa-sha256" and "l" not in tags
        assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(tags["h"].split(":"))
        # Exactly one of each single-instance header.
        for name in SINGLE:
            assert len(msg.get_all(name, [])) == 1, name
        # List-Unsubscribe: one https URL, then the mailto: address beside it (RFC 2369), literally in the raw
        # bytes, never an encoded-word.
        raw_unsub = _raw_header(data, "List-Unsubscribe")
        assert b"=?" not in raw_unsub
        unsub = re.fullmatch(
            rb" <(https?://[^>]+)>, <mailto:(bounces\+unsub-[0-9a-f-]+@example\.com)\?subject=unsubscribe>",
            raw_unsub,
        )
        url = unsub.group(1).decode()
        assert len(unsub.group(2).split(b"@")[0]) <= 64  # RFC 5321's limit of a local part
        assert url.startswith(app.config["MAILER_BASE_URL"] + "/u/")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # Format: multipart/alternative, text first, HTML last; Message-ID on our domain; VERP maps back.
        assert msg.get_content_type() == "multipart/alternative"
        text_part, html_part = msg.iter_parts()
        assert (text_part.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
        assert msg["Message-ID"].endswith("@example.com>") and msg["Date"]
        delivery = by_contact[contact.id]
        assert delivery.status == "sent" and delivery.message_id == msg["Message-ID"]
        assert delivery_id_from_verp(received.mail_from) == delivery.id
        assert all(len(line) <= 998 for line in data.split(b"\r\n"))
        text, html = text_part.get_content(), html_part.get_content()
        assert url in text and url in html  # B3: a visible unsubscribe link in both parts
        assert "Mailer Demo Ltd, 1 Test Street" in text and "Mailer Demo Ltd, 1 Test Street" in html
        assert re.search(r'<p style="[^"]*color:#333', html)  # CSS was inlined (once per campaign)

    ann_msg, bob_msg = (
        smtp_server.to("ann@example.net")[0].message,
        smtp_server.to("bob@example.net")[0].message,
    )
    assert ann_msg["Subject"] == "Spring news for Ann" and bob_msg["Subject"] == "Spring news for you"
    ann_html = ann_msg.get_body(("html",)).get_content()
    bob_html = bob_msg.get_body(("html",)).get_content()
    assert "Hello Ann" in ann_html and "Hello there" in bob_html
    # Tracking only with consent: Ann's links go through the click redirect and she has a pixel; Bob's don't.
    links = (
        db.session.execute(select(Link).where(Link.campaign_id == campaign.id).order_by(Link.id))
        .scalars()
        .all()
    )
    assert [link.url for link in links] == [
        "https://example.org/news?id=7&lang=en",
        "https://shop.example.org/",
    ]
    assert ann_html.count("/t/c/") == 2 and "/t/o/" in ann_html and "example.org/news" not in ann_html
    assert "/t/c/" not in bob_html and "/t/o/" not in bob_html
    assert 'href="https://example.org/news?id=7&amp;lang=en"' in bob_html
    assert campaigns.progress(db.session.get(Campaign, campaign.id))["sent"] == 2
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "sent"


def test_compliance_preview_counts_every_exclusion_reason(app_ctx):
    from mailer.consent.models import Purpose
    from mailer.contacts.models.suppression import Suppression
    from mailer.privacy.erasure import anonymise_contact

    ensure_tracking_purposes()
    news, vip = create_list("News"), create_list("VIP customers")
    subscriber(news, "ok@example.net")
    subscriber(news, "two-lists@example.net")
    subscriber(create_list("Other"), "other-list-only@example.net")
    subscriber(news, "pending@example.net", status="pending", consent=False)
    subscriber(news, "left@example.net", status="unsubscribed")
    subscriber(news, "noconsent@example.net", consent=False)
    subscriber(news, "restricted@example.net").status = "restricted"
    anonymise_contact(subscriber(news, "erased@example.net"))
    suppressed = subscriber(news, "suppressed@example.net")
    bounced = subscriber(news, "bounced@example.net")
    db.session.add_all(
        [
            Suppression(email_hash=suppressed.email_hash, reason="manual"),
            Suppression(email_hash=bounced.email_hash, reason="hard_bounce"),
        ]
    )
    direct_marketing = Purpose(key="direct-marketing", name="Direct marketing", kind="other")
    db.session.add(direct_marketing)
    db.session.flush()
    from mailer.consent.ledger import record_consent
    from tests.support.campaigns import CTX

    record_consent(subscriber(news, "objector@example.net"), direct_marketing, "objected", CTX)
    subscriber(vip, subscriber(news, "vip@example.net").email)
    campaign = make_campaign([news])
    campaign.exclusion_lists = [vip]
    db.session.commit()

    result = campaigns.compliance_preview(campaign)
    db.session.commit()
    assert result["recipients"] == 2
    assert result["excluded"] == {
        "unconfirmed": 1,
        "unsubscribed": 1,
        "no_consent": 1,
        "restricted": 1,
        "erased": 1,
        "suppressed": 1,
        "bounced": 1,
        "objected": 1,
        "excluded_list": 1,
    }
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).compliance["recipients"] == 2


def test_marketing_email_links_to_the_privacy_notice(app, app_ctx, client, worker, smtp_server):
    """Every built-in layout and the text part point to the published privacy notice."""
    from mailer.campaigns.layouts import ensure_builtin_layouts

    news = create_list("News")
    subscriber(news, "ann@example.net", "Ann Lee")
    layouts = ensure_builtin_layouts()
    notice_url = app.config["MAILER_BASE_URL"] + "/privacy"
    for layout in layouts:
        campaign = make_campaign([news], layout=layout)
        db.session.commit()
        campaigns.start_campaign(campaign)
        db.session.commit()
        worker.drain()
        message = smtp_server.messages[-1].message
        assert f'href="{notice_url}"' in message.get_body(("html",)).get_content(), layout.name
        assert notice_url in message.get_body(("plain",)).get_content()
    assert len(smtp_server.messages) == len(layouts) >= 3
    assert client.get("/privacy").status_code == 200
