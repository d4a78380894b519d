"""Control characters (NUL, ESC, BEL, C1) on every path: refused with a clear 4xx where people type text,
never a 500 (PostgreSQL refuses NUL), never raw in a mail header, and one bad import row does not sink the
others."""

import re

import pytest
from sqlalchemy import select

from mailer.campaigns.models import Campaign
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.imports import ContactImport
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import MailingList
from tests.admin.test_campaign_pages import draft, editor_fields, form_token
from tests.public.recipients import news_list, preferences_path, subscribed_contact
from tests.support.audience import subscriber
from tests.support.http import csrf_token
from tests.support.imports import upload_and_map
from tests.support.signup import page

CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _header_bytes(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def _save_name(client, path: str, name: str):
    notice = re.search(r'name="notice" value="(\d+)"', client.get(path).text).group(1)
    return client.post(path, data={"notice": notice, "name": name, "choice": []})


@pytest.mark.parametrize("name", ["Ann\x00", "Ann\x1b[31m Red\x07", "Ann\x85Bcc: x@evil.example", "Ann\x7f"])
def test_preference_centre_refuses_control_characters_in_the_name(app, app_ctx, name):
    contact = subscribed_contact("ann@example.com", [news_list()], name="Ann")
    client = app.test_client()
    response = _save_name(client, preferences_path(app, contact), name)
    assert response.status_code == 400, response.status_code
    assert "characters we can't store" in page(response)
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).name == "Ann"


def test_preference_centre_refuses_a_nul_in_a_field_value(app, app_ctx):
    from mailer.contacts import fields

    fields.define_field("city", "City", "ordinary")
    db.session.commit()
    contact = subscribed_contact("ann@example.com", [news_list()], name="Ann")
    path = preferences_path(app, contact)
    client = app.test_client()
    notice = re.search(r'name="notice" value="(\d+)"', client.get(path).text).group(1)
    response = client.post(path, data={"notice": notice, "name": "Ann", "field:city": "Ber\x00lin"})
    assert response.status_code == 400 and "characters we can't store" in page(response)


def test_stored_control_characters_never_reach_the_to_or_subject_header(
    app, app_ctx, client, auth, demo_form, smtp_server, worker
):
    """The last defence: data stored before these rules (or by a path we missed) is cleaned at the header."""
    ann = subscriber(demo_form, "ann@example.com", name="Ann")
    ann.name = "Ann\x1b[2J\x07 Example\r\nBcc: evil@example.net"  # (PostgreSQL cannot even store a NUL)
    db.session.commit()
    assert (
        client.post("/p", data={"email": "ann@example.com"}).status_code == 200
    )  # transactional: delivery.outgoing
    campaign = draft(auth)
    db.session.execute(
        db.update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(subject="News\x1b]8;;http://evil\x07 today", from_name="Shop\x07")
    )
    db.session.commit()
    show = f"/admin/campaigns/{campaign.public_id}"
    response = auth.post(
        f"{show}/test", data={"csrf_token": form_token(auth, show), "addresses": "ann@example.com"}
    )
    assert response.status_code == 302, page(response)
    worker.drain()
    received = smtp_server.to("ann@example.com")
    subjects = [m.message["Subject"] for m in received]
    # One subject built by delivery.outgoing, one by the campaign skeleton.
    assert any(s.startswith("Your email preferences") for s in subjects), subjects
    assert any(s.startswith("[TEST] News") for s in subjects), subjects
    for message in received:
        head = _header_bytes(message.data)
        assert not CONTROLS.search(head.decode("utf-8", "replace")), head
        assert b"Bcc:" not in head.replace(b"\r\n ", b" ").split(b"\r\nTo:")[0]  # no injected header line
        assert message.message["To"].addresses[0].display_name.startswith("Ann")
        assert "evil@example.net" not in [a.addr_spec for a in message.message["To"].addresses]


def _upload(client, data: bytes):
    demo_list = db.session.execute(select(MailingList)).scalars().first()
    return upload_and_map(client, demo_list.id, data)


def test_an_import_reports_rows_with_control_characters_and_imports_the_rest(
    app, app_ctx, auth, demo_form, worker
):
    data = (
        b"email,name\n"
        b"ann@example.com,Ann\n"
        b"nul@example.com,Nu\x00ll\n"
        b"esc@example.com,Esc\x1b[2J\x07\n"
        b"bad\x00@example.com,Bad\n"
        b"bob@example.com,Bob\n"
    )
    assert _upload(auth, data).status_code == 302
    worker.drain()
    db.session.expire_all()
    job = db.session.execute(select(ContactImport)).scalar_one()
    assert job.status == "done" and not job.error
    assert (job.processed_rows, job.invited) == (5, 2)
    assert job.skipped == {"invalid_name": 2, "invalid_address": 1}
    assert [line for line, _ in job.row_errors] == [3, 4, 5]
    shown = page(auth.get(f"/admin/imports/{job.public_id}"))
    assert (
        "line 3: the name contains control characters" in shown
        and "line 5: not a valid email address" in shown
    )
    emails = set(db.session.execute(select(Contact.email)).scalars())
    assert {"ann@example.com", "bob@example.com"} <= emails
    assert not emails & {"nul@example.com", "esc@example.com"}


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "Hello\x1b[2J"),
        ("from_name", "Shop\x07"),
        ("body", "Hi\x00 there"),
        ("name", "Spring\x85"),
    ],
)
def test_campaign_editor_refuses_control_characters(app_ctx, auth, demo_form, field, value):
    response = auth.post("/admin/campaigns/new", data=editor_fields(auth, **{field: value}))
    assert response.status_code == 400 and "control character" in page(response)
    assert db.session.execute(select(Campaign)).first() is None


def test_campaign_subject_with_a_line_break_is_saved_as_one_line(app_ctx, auth, demo_form):
    campaign = draft(auth, subject="Spring news\r\nBcc: evil@example.net")
    assert campaign.subject == "Spring news Bcc: evil@example.net"


def test_list_names_refuse_control_characters(app_ctx, auth):
    token = csrf_token(auth.get("/admin/lists/new").text)
    response = auth.post(
        "/admin/lists/new",
        data={"csrf_token": token, "name": "News\x07", "description": "", "visibility": "public"},
    )
    assert response.status_code == 400 and "control character" in page(response)
    from mailer.subscriptions.lists import ListError, create_list

    with pytest.raises(ListError, match="characters we can't store"):
        create_list("News\x1b", "")  # the service, for doors that are not the admin form (CLI, seed)


def test_a_correction_request_refuses_control_characters(app, app_ctx):
    from tests.support.privacy import preference_path

    contact = subscribed_contact("ann@example.com", [news_list()], name="Ann")
    client = app.test_client()
    for name in ("Ann\x00", "Ann\x1b[2J"):
        response = client.post(preference_path(contact, "rectification"), data={"name": name, "email": ""})
        assert response.status_code == 400 and "characters we can't store" in page(response)
