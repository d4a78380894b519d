"""The preference centre: what it shows, each change one
ledger event, withdrawal in one step (F1-F3, J4, Art. 18)."""

import re

import pytest
from sqlalchemy import func, select

from mailer.consent.ledger import consent_status
from mailer.consent.models import ConsentEvent, Notice
from mailer.contacts.models.suppression import Suppression
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.preferences import NOTICE_KEY
from tests.public.recipients import news_list, preferences_path, subscribed_contact, tracking_purposes
from tests.support.http import confirm_link

KINDS = ("access", "portability", "rectification", "erasure", "restriction", "objection")


@pytest.fixture
def ann(app_ctx):
    """Ann is on News with open tracking; Offers is another public list, Staff a private one."""
    news, offers, staff = (
        news_list("News"),
        news_list("Offers"),
        news_list("Staff only", visibility="private"),
    )
    tracking_purposes()
    contact = subscribed_contact("ann@example.com", [news], tracking=("open",), name="Ann")
    return contact, news, offers, staff


def checkboxes(html: str) -> dict[str, bool]:
    """Label text -> checked, for every checkbox on the page."""
    boxes = {}
    for match in re.finditer(
        r'<input class="form-check-input" type="checkbox" name="choice" value="([^"]+)" '
        r'id="([^"]+)"( checked)?>\s*<label[^>]*>([^<]+)',
        html,
    ):
        boxes[" ".join(match.group(4).split())] = bool(match.group(3))
    return boxes


def form_values(html: str) -> tuple[dict[str, str], str]:
    """Checkbox label -> value, and the notice version in the form."""
    values = {
        " ".join(m.group(3).split()): m.group(1)
        for m in re.finditer(r'name="choice" value="([^"]+)" id="([^"]+)"[^>]*>\s*<label[^>]*>([^<]+)', html)
    }
    return values, re.search(r'name="notice" value="(\d+)"', html).group(1)


def ledger(action=None):
    db.session.expire_all()
    query = select(ConsentEvent).order_by(ConsentEvent.id)
    if action:
        query = query.where(ConsentEvent.action == action)
    return db.session.execute(query).scalars().all()


def save(client, path, ticked_labels, values, notice, name="Ann"):
    return client.post(
        path,
        data={"choice": [values[label] for label in ticked_labels], "notice": notice, "name": name},
        headers={"User-Agent": "PrefsBrowser/1.0"},
    )


def test_page_shows_choices_data_and_rights(app, ann):
    contact, *_ = ann
    path = preferences_path(app, contact)
    page = app.test_client().get(path)
    assert page.status_code == 200
    assert "ann@example.com" in page.text and app.config["MAILER_ORGANISATION"] in page.text
    assert checkboxes(page.text) == {
        "Yes, send me “News” by email.": True,
        "Yes, send me “Offers” by email.": False,
        "Yes, you may record when I open your emails.": True,
        "Yes, you may record which links I click in your emails.": False,  # never pre-ticked
    }
    assert "Staff only" not in page.text  # private lists are not offered
    token = path.rsplit("/", 1)[1]
    client = app.test_client()
    for kind in KINDS:
        assert f'href="/p/{token}/privacy/{kind}"' in page.text
        assert (
            client.get(f"/p/{token}/privacy/{kind}").status_code == 200
        )  # the privacy pages take over from here
    assert 'href="/privacy"' in page.text and "What we hold about you" in page.text
    assert client.get("/privacy").status_code == 200
    assert f"Kept {app.config['TRACKING_RETENTION_DAYS']} days" in page.text
    assert page.text.count("Unsubscribe from everything") >= 2  # heading and its one button


def test_recipients_of_the_data_are_named(app, ann):
    from mailer.privacy.models.settings import DataRecipient

    contact, *_ = ann
    db.session.add(DataRecipient(name="Relay GmbH", purpose="delivers our emails", outside_eea=False))
    db.session.commit()
    page = app.test_client().get(preferences_path(app, contact))
    assert "Relay GmbH — delivers our emails" in page.text


def test_each_change_is_one_ledger_event_with_the_notice_shown(app, ann):
    contact, _news, offers, _ = ann
    client = app.test_client(use_cookies=False)
    path = preferences_path(app, contact)
    values, notice = form_values(client.get(path).text)
    before = len(ledger())
    response = save(
        client,
        path,
        [
            "Yes, send me “News” by email.",
            "Yes, send me “Offers” by email.",
            "Yes, you may record which links I click in your emails.",
        ],
        values,
        notice,
    )
    assert response.status_code == 200 and "Saved." in response.text
    events = ledger()[before:]
    assert [(e.action, e.purpose.name) for e in events] == [
        ("granted", "Offers"),
        ("withdrawn", "Open tracking"),
        ("granted", "Click tracking"),
    ]
    shown = db.session.execute(select(Notice).where(Notice.key == NOTICE_KEY)).scalar_one()
    assert all(e.source == "preference-centre" and e.user_agent == "PrefsBrowser/1.0" for e in events)
    assert [e.notice_id for e in events] == [
        shown.id,
        None,
        shown.id,
    ]  # what was shown when consent was given
    labels = [c["label"] for c in shown.content["checkboxes"]]
    assert "Yes, send me “Offers” by email." in labels
    sub = db.session.execute(select(Subscription).where(Subscription.list_id == offers.id)).scalar_one()
    assert (sub.status, sub.source) == ("confirmed", "preference-centre")
    assert checkboxes(response.text)["Yes, send me “Offers” by email."] is True

    again = save(
        client,
        path,
        [
            "Yes, send me “News” by email.",
            "Yes, send me “Offers” by email.",
            "Yes, you may record which links I click in your emails.",
        ],
        values,
        notice,
    )
    assert "Nothing needed to change" in again.text and len(ledger()) == before + 3


def test_unticking_a_list_unsubscribes_from_it(app, ann):
    contact, news, _, _ = ann
    client = app.test_client()
    path = preferences_path(app, contact)
    values, notice = form_values(client.get(path).text)
    save(client, path, ["Yes, you may record when I open your emails."], values, notice)
    db.session.expire_all()
    assert (
        db.session.execute(select(Subscription.status).where(Subscription.list_id == news.id)).scalar()
        == "unsubscribed"
    )
    [event] = ledger("withdrawn")
    assert event.purpose_id == news.purpose.id and consent_status(contact, news.purpose) == "withdrawn"
    assert db.session.execute(select(Suppression)).first() is None


def test_name_can_be_changed(app, ann):
    contact, *_ = ann
    client = app.test_client()
    path = preferences_path(app, contact)
    values, notice = form_values(client.get(path).text)
    response = save(
        client,
        path,
        ["Yes, send me “News” by email.", "Yes, you may record when I open your emails."],
        values,
        notice,
        name="  Ann   Example ",
    )
    assert "Your name is updated" in response.text
    db.session.refresh(contact)
    assert contact.name == "Ann Example"


def test_ordinary_fields_are_editable_sensitive_ones_are_not_shown(app, ann):
    from mailer.contacts import fields

    contact, *_ = ann
    company = fields.define_field("company", "Company", "ordinary", help_text="Where you work.")
    fields.define_field("health", "Health condition", "sensitive")
    fields.set_value(contact, company, "Acme")
    db.session.commit()
    client = app.test_client()
    path = preferences_path(app, contact)
    page = client.get(path)
    assert (
        'name="field:company"' in page.text and 'value="Acme"' in page.text and "Where you work." in page.text
    )
    assert "Health condition" not in page.text and 'name="field:health"' not in page.text
    values, notice = form_values(page.text)
    before = len(ledger())
    response = client.post(
        path,
        data={
            "choice": [
                values["Yes, send me “News” by email."],
                values["Yes, you may record when I open your emails."],
            ],
            "notice": notice,
            "name": "Ann",
            "field:company": " Acme  Widgets ",
            "field:health": "sneaky",
        },
    )
    assert response.status_code == 200 and "Updated: Company." in response.text
    db.session.expire_all()
    assert fields.read_value(contact, company) == "Acme Widgets"
    assert fields.read_value(contact, fields.field_by_key("health")) is None
    assert len(ledger()) == before  # not a consent change


@pytest.mark.parametrize("bad", ["not-a-choice", "private"])
def test_unknown_choices_are_refused_with_a_message(app, ann, bad):
    contact, _, _, staff = ann
    value = staff.public_id if bad == "private" else bad
    before = len(ledger())
    response = app.test_client().post(preferences_path(app, contact), data={"choice": [value], "name": "Ann"})
    assert response.status_code == 400 and "reload the page" in response.text
    assert len(ledger()) == before


def test_unsubscribe_from_everything_is_one_button(app, ann):
    contact, *_ = ann
    client = app.test_client(use_cookies=False)
    response = client.post(preferences_path(app, contact) + "/unsubscribe-all")
    assert response.status_code == 200 and "unsubscribed from everything" in response.text
    assert db.session.execute(select(Suppression.reason)).scalar_one() == "unsubscribed"
    assert sorted(e.purpose.name for e in ledger("withdrawn")) == ["News", "Open tracking"]
    assert not any(checkboxes(response.text).values())


def test_a_suppressed_address_returns_only_through_double_opt_in(app, ann, worker):
    contact, _news, offers, _ = ann
    client = app.test_client()
    path = preferences_path(app, contact)
    client.post(path + "/unsubscribe-all")
    page = client.get(path)
    assert "If you tick a list, we'll email you a link to confirm" in page.text.replace("&#39;", "'")
    values, notice = form_values(page.text)
    response = save(client, path, ["Yes, send me “Offers” by email."], values, notice)
    assert "emailed you a link to confirm" in response.text.replace("&#39;", "'")
    assert [e.purpose.name for e in ledger("requested")] == ["Offers"]
    db.session.expire_all()
    assert (
        db.session.execute(select(Subscription.status).where(Subscription.list_id == offers.id)).scalar()
        == "pending"
    )
    assert db.session.execute(select(Suppression)).first() is not None  # still suppressed until confirmed
    worker.drain()
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    link = confirm_link(message.raw, app.config["MAILER_BASE_URL"])
    assert client.post(link[len(app.config["MAILER_BASE_URL"]) :]).status_code == 200
    db.session.expire_all()
    assert (
        db.session.execute(select(Subscription.status).where(Subscription.list_id == offers.id)).scalar()
        == "confirmed"
    )
    assert db.session.execute(select(Suppression)).first() is None


def test_restricted_contact_can_look_but_not_change(app, ann):
    contact, *_ = ann
    contact.status = "restricted"
    db.session.commit()
    client = app.test_client()
    path = preferences_path(app, contact)
    page = client.get(path)
    assert page.status_code == 200 and "Your data is restricted" in page.text
    assert re.search(r"<fieldset[^>]*disabled", page.text) and re.search(
        r'<button type="submit"[^>]*disabled', page.text
    )
    values, notice = form_values(page.text)
    before = len(ledger())
    response = save(client, path, ["Yes, send me “Offers” by email."], values, notice, name="Changed")
    assert response.status_code == 403 and "restricted" in response.text
    db.session.refresh(contact)
    assert contact.name == "Ann" and len(ledger()) == before


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "garbage"])
def test_broken_link_offers_a_fresh_one(app, ann, mangle):
    contact, *_ = ann
    prefix, token = preferences_path(app, contact).rsplit("/", 1)
    response = app.test_client().get(f"{prefix}/{mangle(token)}")
    assert response.status_code == 404 and "Email me a link" in response.text
    assert app.test_client().post(f"{prefix}/{mangle(token)}", data={"choice": []}).status_code == 404


@pytest.mark.config(RECIPIENT_TOKEN_MAX_AGE=-1)
def test_expired_link_offers_a_fresh_one(app, ann):
    contact, *_ = ann
    response = app.test_client().get(preferences_path(app, contact))
    assert response.status_code == 410 and "expired" in response.text


def test_fresh_link_by_email_without_revealing_who_is_known(app, ann, worker):
    _contact, *_ = ann
    client = app.test_client(use_cookies=False)
    form = client.get("/p")
    assert form.status_code == 200 and 'name="email"' in form.text
    known = client.post("/p", data={"email": "ANN@example.com"})
    unknown = client.post("/p", data={"email": "nobody@example.com"})
    assert (known.status_code, known.data) == (unknown.status_code, unknown.data) == (200, known.data)
    worker.drain()
    [message] = db.session.execute(select(OutboxMessage)).scalars().all()
    assert message.rcpt_to == "ann@example.com" and message.category == "transactional"
    raw = message.raw.decode()
    assert "List-Unsubscribe" not in raw
    link = re.search(
        re.escape(app.config["MAILER_BASE_URL"]) + r"/p/[A-Za-z0-9_.\-]+", raw.replace("=\r\n", "")
    ).group(0)
    page = client.get(link[len(app.config["MAILER_BASE_URL"]) :])
    assert page.status_code == 200 and "ann@example.com" in page.text


def test_fresh_link_requests_are_capped_per_address(app, ann, worker):
    client = app.test_client()
    for _ in range(5):
        assert client.post("/p", data={"email": "ann@example.com"}).status_code == 200
    worker.drain()
    assert db.session.execute(select(func.count(OutboxMessage.id))).scalar_one() == 3


def test_bad_address_gets_a_clear_message(app, ann):
    response = app.test_client().post("/p", data={"email": "not an address"})
    assert (
        response.status_code == 400 and "doesn" in response.text and 'value="not an address"' in response.text
    )


def test_pending_list_is_shown_as_waiting(app, ann):
    contact, _, offers, _ = ann
    db.session.add(Subscription(contact_id=contact.id, list_id=offers.id, status="pending", source="form"))
    db.session.commit()
    page = app.test_client().get(preferences_path(app, contact))
    assert "waiting for your confirmation" in page.text
