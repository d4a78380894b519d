"""A person exercises their rights in Chromium, starting from the preference centre link in an email."""

import io
import json
import zipfile
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.privacy.models.requests import PrivacyRequest
from tests.browser.conftest import shoot
from tests.public.recipients import (
    news_list,
    preferences_path,
    sent_campaign,
    subscribed_contact,
    tracking_purposes,
)
from tests.support.privacy import links_in_mail
from tests.support.workers import drain


def _ann(app):
    with app.app_context():
        news = news_list("News")
        tracking_purposes()
        contact = subscribed_contact("ann@example.com", [news], tracking=("open",), name="Ann Browser")
        sent_campaign(news, [contact])
        return contact.public_id, preferences_path(app, contact)


def _verification_link(app) -> str:
    drain(app)
    with app.app_context():
        return links_in_mail(app, "ann@example.com", "/privacy/verify/")[-1]


def test_download_then_erase_from_the_preference_centre(app, page, worker):
    public_id, preferences = _ann(app)
    page.goto(preferences)
    expect(page.get_by_role("heading", name="Your email preferences")).to_be_visible()

    # Access: the link in the preference centre, a confirmation by email, then the download.
    page.get_by_role("link", name="Download a copy of your data").click()
    expect(page.get_by_role("heading", name="Get a copy of your data")).to_be_visible()
    page.get_by_role("button", name="Email me the confirmation link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.goto(_verification_link(app))
    page.get_by_role("button", name="Prepare my download").click()
    expect(page.get_by_role("heading", name="Your data is ready")).to_be_visible()
    shoot(page, "privacy-download-ready")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download my data (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    data = json.loads(archive.read("data.json"))
    assert data["profile"][0]["email"] == "ann@example.com"
    assert [d["campaign"] for d in data["deliveries"]] == ["Spring news"]
    assert "Your rights" in archive.read("README.html").decode()

    # Erasure: the box must be ticked; the confirmation page warns that it cannot be undone.
    page.goto(preferences)
    page.get_by_role("link", name="Erase your data").click()
    page.get_by_role("button", name="Email me the confirmation link").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick the box")
    page.get_by_label("I want all my data erased").check()
    page.get_by_role("button", name="Email me the confirmation link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.goto(_verification_link(app))
    expect(page.get_by_role("alert")).to_contain_text("This cannot be undone")
    shoot(page, "privacy-erasure-confirm")
    page.get_by_role("button", name="Erase my data now").click()
    expect(page.get_by_role("heading", name="Your data has been erased")).to_be_visible()

    with app.app_context():
        contact = db.session.execute(select(Contact).where(Contact.public_id == public_id)).scalar_one()
        assert contact.status == "erased" and contact.email is None
        assert sorted(r.type for r in db.session.execute(select(PrivacyRequest)).scalars()) == [
            "access",
            "erasure",
        ]
    # The old preference link now leads nowhere personal.
    page.goto(preferences + "/privacy/access")
    expect(page.get_by_role("heading", name="This link doesn't work")).to_be_visible()


def test_objection_with_the_keyboard_and_the_privacy_notice(app, page):
    _, preferences = _ann(app)
    page.goto(preferences + "/privacy/objection")
    expect(page.get_by_role("heading", name="Object to a use of your data")).to_be_visible()
    box = page.get_by_label("Direct marketing")
    box.focus()
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    page.get_by_role("button", name="Record my objection").press("Enter")
    expect(page.get_by_role("heading", name="Your objection is recorded")).to_be_visible()
    expect(page.get_by_text("News")).to_be_visible()
    page.get_by_role("link", name="Our privacy notice").click()
    expect(page.get_by_role("heading", name="Your rights")).to_be_visible()
    expect(page.get_by_role("heading", name="Complaints")).to_be_visible()
    shoot(page, "privacy-notice")
