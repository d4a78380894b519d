"""Brand settings: WCAG AA contrast enforced with the ratio in the message, the brand on public pages, the
hosted form and system emails, and `brand` in every campaign layout's context."""

import email
from email import policy

import pytest
from sqlalchemy import select

from mailer.campaigns import rendering
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.organisation import brand
from tests.admin.test_campaign_pages import form_token
from tests.support.audience import subscriber
from tests.support.campaigns import newsletter
from tests.support.signup import page


def test_contrast_ratios_follow_wcag():
    assert brand.contrast("#ffffff", "#000000") == pytest.approx(21)
    assert brand.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert brand.contrast("#1f4e79", "#ffffff") > 4.5


def test_pairs_below_aa_are_refused_with_the_ratio(app_ctx):
    with pytest.raises(brand.BrandRefused) as refused:
        brand.save(brand.BrandInput(colour="#ffcc00", text_colour="#ffffff"))
    errors = refused.value.errors
    assert errors["text_colour"].startswith(
        "Text in #ffffff on #ffcc00 has a contrast of 1.5:1; at least 4.5:1"
    )
    assert "The brand colour #ffcc00 on white has a contrast of 1.5:1" in errors["colour"]
    with pytest.raises(brand.BrandRefused, match="as #rrggbb"):
        brand.save(brand.BrandInput(colour="red"))
    with pytest.raises(brand.BrandRefused, match="from the media library"):
        brand.save(brand.BrandInput(logo_url="https://elsewhere.example/logo.png"))


def test_the_brand_reaches_pages_forms_system_emails_and_layouts(auth, demo_form, worker):
    saved = auth.post(
        "/admin/organisation/brand",
        data={
            "csrf_token": form_token(auth, "/admin/organisation"),
            "colour": "#7a1f5c",
            "text_colour": "#fff8e7",
            "font": "serif",
            "logo_url": "",
            "footer_text": "Green Grocers · fresh every Friday",
        },
    )
    assert saved.status_code == 302
    refused = auth.post(
        "/admin/organisation/brand",
        data={
            "csrf_token": form_token(auth, "/admin/organisation"),
            "colour": "#ffcc00",
            "text_colour": "#ffffff",
            "font": "system",
            "logo_url": "",
        },
    )
    assert refused.status_code == 400 and "has a contrast of 1.5:1" in page(refused)

    public = page(auth.get("/"))
    assert "background-color: #7a1f5c; color: #fff8e7" in public and "font-family: Georgia" in public
    assert "Green Grocers · fresh every Friday" in public
    assert "Green Grocers · fresh every Friday" in page(auth.get("/f/demo"))

    subscriber(demo_form, "ann@example.com", confirmed=False)
    worker.drain()
    db.session.expire_all()
    [confirmation] = db.session.execute(select(OutboxMessage)).scalars()
    html = email.message_from_bytes(confirmation.raw, policy=policy.default).get_body(("html",)).get_content()
    assert "background:#7a1f5c;color:#fff8e7" in html and "fresh every Friday" in html

    campaign, _ = newsletter(1)
    assert rendering.base_context(campaign)["brand"]["colour"] == "#7a1f5c"
