"""A/B variants of a visual campaign: a variant's content is made in the visual editor (its design kept beside
the exported HTML), starts as the campaign's design, is checked like the campaign's, previewed for a chosen
contact and sent through the real worker and aiosmtpd to that variant's share only."""

import json
import re

from sqlalchemy import select

from mailer.campaigns import ab_testing
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import AbVariant
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.staff.accounts import create_staff
from tests.support.ab_tests import ab_campaign, by_address
from tests.support.http import csrf_token, login
from tests.support.signup import page

CAMPAIGN_DESIGN = (
    '<style>\n#c1{color:#123456;}\n</style>\n<h1 id="c1">Spring news</h1><p>Apples are in.</p>\n'
)
VARIANT_EXPORT = (
    '<style>\n#v1{color:#ab3412;}\n</style>\n<body><h1 id="v1">Pears, {{ contact.first_name | '
    "default(&quot;friend&quot;) }}!</h1><p>Fresh pears this week.</p></body>"
)


def _project(exported: str) -> str:
    return json.dumps({"pages": [{"frames": []}], "styles": [], "mailer": {"exported": exported}})


def visual_ab_campaign(n: int = 4):
    campaign = ab_campaign(n, percent=50)
    campaign.body_format, campaign.body = "visual", CAMPAIGN_DESIGN
    campaign.body_project = ""  # no stored design: the editor imports the HTML (a fake one would load empty)
    db.session.commit()
    return campaign


def test_a_visual_variant_is_kept_with_its_design_and_sent_to_its_share(app_ctx, worker, smtp_server):
    campaign = visual_ab_campaign(4)
    variant = ab_testing.set_variant_content(
        campaign,
        1,
        body_format="visual",
        body=VARIANT_EXPORT,
        body_project=_project(VARIANT_EXPORT),
        text_body="",
    )
    db.session.commit()
    assert variant.body_format == "visual" and "<body" not in variant.body
    assert 'default("friend")' in variant.body  # the editor's escaped quotes, unescaped inside the tag
    assert json.loads(variant.body_project)["mailer"]["exported"] == VARIANT_EXPORT

    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    rows = db.session.execute(select(Delivery).where(Delivery.campaign_id == campaign.id)).scalars().all()
    assert sorted(d.variant for d in rows) == [0, 1]
    received = by_address(smtp_server)
    for delivery in rows:
        html = received[delivery.contact.email][0].get_body(("html",)).get_content()
        first = delivery.contact.name.split()[0]
        if delivery.variant == 1:
            assert f"Pears, {first}!" in html and "Apples are in." not in html
            assert re.search(r"<h1[^>]*color:\s*#ab3412", html)  # its own CSS, inlined
        else:
            assert "Apples are in." in html and "Pears" not in html


def test_a_variant_that_does_not_render_is_refused_and_nothing_is_written(app_ctx):
    campaign = visual_ab_campaign(2)
    broken = "<body><p>Hi {{ contact.first_name </p></body>"
    try:
        ab_testing.set_variant_content(
            campaign, 1, body_format="visual", body=broken, body_project=_project(broken), text_body=""
        )
    except ab_testing.CampaignError as exc:
        assert "Variant B" in str(exc) and "line 1" in str(exc)
    else:
        raise AssertionError("a broken merge field was accepted")
    db.session.rollback()
    variant = db.session.execute(select(AbVariant).where(AbVariant.position == 1)).scalar_one()
    assert variant.body == "" and variant.body_project == ""


def test_the_variant_pages_edit_preview_and_guard_the_content(app, auth, demo_form):
    campaign = visual_ab_campaign(2)
    ab = f"/admin/campaigns/{campaign.public_id}/ab-test"
    card = page(auth.get(ab))
    assert "Edit the content of variant B in the visual editor" in card and "Preview variant B" in card
    editor = auth.get(f"{ab}/variants/1/content")
    assert editor.status_code == 200
    assert "Apples are in." in page(editor)  # starts as the campaign's own design
    assert 'value="visual"' in editor.text and "Visual editor of Variant B" in page(editor)
    token = csrf_token(editor.text)

    bad = auth.post(
        f"{ab}/variants/1/content",
        data={"csrf_token": token, "body_format": "visual", "body": "<p>{{ contact.</p>", "body_project": ""},
    )
    assert bad.status_code == 400 and "Variant B" in page(bad)
    assert auth.post(f"{ab}/variants/1/content", data={"body_format": "visual"}).status_code == 400  # no CSRF
    assert auth.get(f"{ab}/variants/7/content").status_code == 404

    saved = auth.post(
        f"{ab}/variants/1/content",
        data={
            "csrf_token": token,
            "body_format": "visual",
            "body": VARIANT_EXPORT,
            "body_project": _project(VARIANT_EXPORT),
        },
    )
    assert saved.status_code == 302 and saved.headers["Location"].endswith("#variant-B")
    db.session.expire_all()
    variant = db.session.execute(select(AbVariant).where(AbVariant.position == 1)).scalar_one()
    assert variant.body_format == "visual" and variant.body_project
    assert "Its own content (Visual editor)." in page(auth.get(ab))

    # The card's own form (label, subject, sender) leaves a visual variant's content alone.
    kept = auth.post(
        f"{ab}/variants/1",
        data={"csrf_token": token, "v1-csrf_token": token, "v1-label": "Pears", "v1-subject": "Pears!"},
    )
    assert kept.status_code == 302
    db.session.expire_all()
    assert variant.label == "Pears" and variant.body_format == "visual" and "Fresh pears" in variant.body

    preview = auth.get(f"{ab}/variants/1/preview?contact=p0@example.net")
    text = page(preview)
    assert preview.status_code == 200 and "Pears" in text and "Showing the email as p0@example.net" in text
    document = auth.get(f"{ab}/variants/1/preview.html?contact=p0@example.net")
    assert "Pears, P0!" in page(document) and "sandbox" in document.headers["Content-Security-Policy"]
    sample = page(auth.get(f"{ab}/variants/1/preview.html"))
    assert "Pears, Jane!" in sample  # the sample contact
    assert "Apples are in." in page(auth.get(f"{ab}/variants/0/preview.html"))  # A: the campaign's own
    assert auth.get(f"{ab}/variants/5/preview").status_code == 404


def test_a_viewer_may_preview_a_variant_but_not_change_its_content(app, client, demo_form):
    campaign = visual_ab_campaign(2)
    create_staff("viewer@example.com", "correct horse battery", "viewer")
    db.session.commit()
    login(client, "viewer@example.com", "correct horse battery")
    ab = f"/admin/campaigns/{campaign.public_id}/ab-test"
    assert client.get(f"{ab}/variants/1/preview").status_code == 200
    assert client.get(f"{ab}/variants/1/content").status_code == 403
    token = csrf_token(client.get(f"{ab}/variants/1/preview").text)
    refused = client.post(f"{ab}/variants/1/content", data={"csrf_token": token, "body": "<p>x</p>"})
    assert refused.status_code == 403
