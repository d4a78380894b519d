"""The gallery's starters as they are really sent: each starter in each format it offers (and the
newsletter in a visual layout made from the brand) is saved as a draft and started with open and click
tracking, and the HTML part that arrives at aiosmtpd passes the email-client-safe markup check (tables,
inline styles, no script, nothing wider than 640 px, alt text on every image), links tracked and every merge
field filled."""

import re

import pytest

from mailer.campaigns import drafts, gallery, lifecycle
from mailer.campaigns import layouts as layout_service
from mailer.core.extensions import db
from mailer.organisation import brand
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.campaigns.test_brand_layouts import WORDS, editor_export
from tests.campaigns.test_gallery import CASES, email_safety_problems
from tests.support.campaigns import campaign_status, subscriber


def _send(fields: drafts.DraftFields, smtp_server, worker) -> str:
    """Start the draft for one subscriber who consented to tracking; the HTML part that arrived."""
    ensure_tracking_purposes()
    news = create_list("News")
    subscriber(news, "ann@example.net", "Ann Lee", tracking=("tracking:open", "tracking:click"))
    fields.list_ids, fields.track_opens, fields.track_clicks = [news.id], True, True
    fields.from_email = "news@example.com"
    campaign = drafts.create_draft(fields)
    db.session.commit()
    lifecycle.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent"
    [received] = smtp_server.to("ann@example.net")
    return received.message.get_body(("html",)).get_content()


@pytest.mark.parametrize(("key", "body_format"), CASES)
def test_every_starter_arrives_as_email_safe_html(app, app_ctx, worker, smtp_server, key, body_format):
    layout_service.ensure_builtin_layouts()
    html = _send(gallery.starter_fields(gallery.starter(key), body_format), smtp_server, worker)
    assert email_safety_problems(html) == []
    assert "/c/" in html or "/t/" in html or key == "letter"  # links go through click tracking
    assert not re.search(r"\{\{|\{%|zq[0-9a-f]{8}x\d+qz", html), key  # merge fields and placeholders filled


def test_a_starter_in_a_visual_layout_made_from_the_brand_arrives_as_email_safe_html(
    app, app_ctx, worker, smtp_server
):
    brand.save(brand.BrandInput(colour="#7a1f5c", text_colour="#ffffff", font="serif"))
    exported, design = editor_export(layout_service.visual_start_html(brand.current(), WORDS))
    layout = layout_service.save_layout("Brand", exported, html_format="visual", project=design)
    fields = gallery.starter_fields(gallery.starter("newsletter"), "html")
    fields.layout_id = layout.id
    html = _send(fields, smtp_server, worker)
    assert email_safety_problems(html) == []
    assert "background-color:#7a1f5c" in html.replace(" ", "")
