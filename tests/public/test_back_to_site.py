"""The way back to the sender's site: Settings → Organisation → Website (or MAILER_WEBSITE_URL) becomes a
"Back to <organisation>" link on every public page, and page titles say who is asking."""

import re

import pytest

from mailer.core.extensions import db
from mailer.core.urls import preferences_url, unsubscribe_url
from mailer.organisation import settings as organisation_settings
from mailer.organisation.models import OrganisationSettings
from tests.admin.test_campaign_pages import form_token
from tests.support.http import confirm_link
from tests.support.signup import contact_by_email, outbox_to, page, path_of, sign_up

SITE = "https://www.greengrocers.example/news"
SETTINGS = "/admin/organisation"


def _back_links(response) -> list[tuple[str, str]]:
    """(href, words) of every "back to the site" link on a page."""
    return [
        (href, re.sub(r"\s+", " ", words).strip())
        for href, words in re.findall(
            r'<a href="([^"]*)"[^>]*data-back-to-site>\s*<span aria-hidden="true">←</span>([^<]*)</a>',
            page(response),
        )
    ]


def _title(response) -> str:
    return re.search(r"<title>([^<]*)</title>", page(response)).group(1)


def _save_website(client, website: str):
    values = organisation_settings.stored()
    data = {
        key: getattr(values, key) for key in ("name", "postal_address", "from_name", "from_email", "reply_to")
    }
    return client.post(
        SETTINGS, data={"csrf_token": form_token(client, SETTINGS), **data, "website": website}
    )


@pytest.fixture
def ann_links(app, client, demo_form, worker):
    """Ann signed up on the demo form: her confirmation path, preference and unsubscribe paths."""
    sign_up(client, email="ann@example.com")
    worker.drain()
    base = app.config["MAILER_BASE_URL"]
    [message] = outbox_to("ann@example.com")
    contact = contact_by_email("ann@example.com")
    return {
        "confirm": path_of(confirm_link(message.raw, base), base),
        "preferences": path_of(preferences_url(contact.public_id), base),
        "unsubscribe": path_of(unsubscribe_url(contact.public_id, None, None), base),
    }


def test_staff_set_the_website_and_every_public_page_links_back(app, auth, ann_links):
    client = auth
    organisation = organisation_settings.name()
    before = client.get(ann_links["confirm"])
    assert _back_links(before) == []  # nothing to go back to before a website is given

    saved = _save_website(client, SITE)
    assert saved.status_code == 302
    assert 'value="https://www.greengrocers.example/news"' in page(client.get(SETTINGS))

    expected = (SITE, f"Back to {organisation}")
    pages = {
        "start": client.get("/"),
        "confirm": client.get(ann_links["confirm"]),
        "preference link request": client.get("/p"),
        "preference centre": client.get(ann_links["preferences"]),
        "unsubscribe": client.get(ann_links["unsubscribe"]),
        "privacy request": client.get(ann_links["preferences"].replace("/p/", "/p/", 1) + "/privacy/access"),
        "privacy notice": client.get("/privacy"),
        "hosted form": client.get("/f/demo"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert expected in _back_links(response), name
        assert _title(response).endswith(organisation), name
    assert 'target="_top"' in page(pages["hosted form"])  # the hosted form may be framed: leave the frame
    assert _title(pages["confirm"]) == f"Confirm your subscription · {organisation}"

    confirmed = client.post(ann_links["confirm"])
    assert confirmed.status_code == 200 and "you're subscribed" in page(confirmed)
    assert _back_links(confirmed).count(expected) == 2  # in the header, and as the next step after confirming


def test_the_link_speaks_the_persons_language(app, auth, ann_links):
    _save_website(auth, SITE)
    contact = contact_by_email("ann@example.com")
    contact.language = "it"
    db.session.commit()
    shown = auth.get(ann_links["confirm"])
    assert (SITE, f"Torna a {organisation_settings.name()}") in _back_links(shown)


@pytest.mark.parametrize(
    "website",
    [
        "javascript:alert(1)",
        "www.example.com",
        "ftp://example.com/",
        "https://",
        "https://x.example/" + "a" * 500,
    ],
)
def test_a_website_that_is_not_a_web_address_is_refused_and_nothing_is_saved(app, auth, website):
    refused = _save_website(auth, website)
    assert refused.status_code == 400
    assert "Enter the full address of your website, starting with https://" in page(refused)
    db.session.expire_all()
    row = db.session.get(OrganisationSettings, 1)
    assert row is None or row.website == ""
    assert _back_links(auth.get("/")) == []


@pytest.mark.config(MAILER_WEBSITE_URL="https://env.example/")
def test_the_environment_sets_the_website(app, auth, demo_form):
    assert ("https://env.example/", f"Back to {organisation_settings.name()}") in _back_links(
        auth.get("/f/demo")
    )
    settings_page = page(auth.get(SETTINGS))
    assert "MAILER_WEBSITE_URL" in settings_page
    assert re.search(
        r'<input[^>]*disabled[^>]*id="website"|<input[^>]*id="website"[^>]*disabled', settings_page
    )
    _save_website(auth, "https://other.example/")
    assert organisation_settings.website() == "https://env.example/"
