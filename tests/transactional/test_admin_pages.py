"""The transactional templates pages: create with a preview, refusals with messages, the template page's
preview and test send (the email that arrives), archive and restore, the sent log; editors change, viewers
read without seeing recipients; CSRF on every form."""

import pytest
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.transactional.models import TxMessage, TxTemplate
from tests.support.http import csrf_token, staff_client
from tests.transactional.helpers import SETTINGS

FORM = {
    "name": "Order shipped",
    "key": "order-shipped",
    "subject": "Order {{ data.order_number }} is on its way",
    "body_format": "markdown",
    "body": "Hello {{ contact.first_name | default('there') }}, order **{{ data.order_number }}** has left.",
    "reply_to": "",
    "relay_id": "",
    "sample_data": '{"order_number": "1001"}',
}


def _token(client, path: str = "/admin/transactional/new") -> str:
    """A fresh CSRF token (they are single-use)."""
    return csrf_token(client.get(path).text)


def _template() -> TxTemplate:
    db.session.expire_all()
    return db.session.execute(select(TxTemplate)).scalar_one()


@pytest.mark.config(**SETTINGS)
def test_create_preview_test_send_archive_and_log(app, auth, worker, smtp_server):
    assert "No transactional templates yet" in auth.get("/admin/transactional").text
    page = auth.get("/admin/transactional/new")
    assert page.status_code == 200 and "Choose a new password" in page.text  # a starter body to adapt
    preview = auth.post(
        "/admin/transactional/new", data={**FORM, "csrf_token": csrf_token(page.text), "action": "preview"}
    )
    assert preview.status_code == 200
    assert "Order 1001 is on its way" in preview.text and "order &lt;strong&gt;1001" in preview.text
    assert db.session.execute(select(TxTemplate)).first() is None  # a preview saves nothing

    bad = auth.post(
        "/admin/transactional/new",
        data={**FORM, "csrf_token": _token(auth), "key": "Not A Key", "body": "{% if %}", "action": "save"},
    )
    assert bad.status_code == 400
    assert "lower-case letters" in bad.text and "The content has a template error on line 1" in bad.text

    saved = auth.post("/admin/transactional/new", data={**FORM, "csrf_token": _token(auth), "action": "save"})
    assert saved.status_code == 302
    template = _template()
    assert (template.key, template.name) == ("order-shipped", "Order shipped")
    show_path = saved.headers["Location"]
    show = auth.get(show_path)
    assert "order-shipped" in show.text and "Send test" in show.text
    document = auth.get(f"/admin/transactional/{template.public_id}/preview.html")
    assert "Example Shop" in document.text and "nsubscribe" not in document.text
    assert "sandbox" in document.headers["Content-Security-Policy"]

    sent = auth.post(
        f"/admin/transactional/{template.public_id}/test",
        data={
            "csrf_token": _token(auth, show_path),
            "address": "qa@example.net",
            "data": '{"order_number": "7"}',
        },
    )
    assert sent.status_code == 302
    worker.drain()
    [received] = smtp_server.to("qa@example.net")
    assert received.message["Subject"] == "[TEST] Order 7 is on its way"
    assert "List-Unsubscribe" not in received.message

    bad_json = auth.post(
        f"/admin/transactional/{template.public_id}/test",
        data={"csrf_token": _token(auth, show_path), "address": "qa@example.net", "data": "{order"},
    )
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.text
    bad_address = auth.post(
        f"/admin/transactional/{template.public_id}/test",
        data={"csrf_token": _token(auth, show_path), "address": "nope", "data": "{}"},
    )
    assert bad_address.status_code == 400 and "look like an email address" in bad_address.text

    log = auth.get("/admin/transactional/log")
    assert "qa@example.net" in log.text and ">sent<" in log.text and "test" in log.text

    archived = auth.post(
        f"/admin/transactional/{template.public_id}/archive", data={"csrf_token": _token(auth, show_path)}
    )
    assert archived.status_code == 302 and _template().archived_at is not None
    index = auth.get("/admin/transactional").text
    assert "Archived templates" in index and "Restore" in auth.get(archived.headers["Location"]).text
    auth.post(
        f"/admin/transactional/{template.public_id}/archive", data={"csrf_token": _token(auth, show_path)}
    )
    assert _template().archived_at is None


@pytest.mark.config(**SETTINGS)
def test_viewers_read_templates_but_neither_change_them_nor_see_recipients(app, worker):
    editor = staff_client(app, "marketer")
    editor.post("/admin/transactional/new", data={**FORM, "csrf_token": _token(editor), "action": "save"})
    with app.app_context():
        public_id = _template().public_id
    path = f"/admin/transactional/{public_id}"
    tested = editor.post(
        f"{path}/test", data={"csrf_token": _token(editor, path), "address": "qa@example.net", "data": "{}"}
    )
    assert tested.status_code == 302
    assert editor.post(f"{path}/archive", data={}).status_code == 400  # no CSRF token
    viewer = staff_client(app, "viewer")
    page = viewer.get(path)
    assert page.status_code == 200 and "qa@example.net" not in page.text and "Send test" not in page.text
    assert viewer.get("/admin/transactional/log").status_code == 403
    assert viewer.get("/admin/transactional/new").status_code == 403
    assert viewer.post(f"{path}/archive", data={"csrf_token": _token(viewer, path)}).status_code == 403
    assert viewer.get("/admin/transactional/nope").status_code == 404
    with app.app_context():
        assert db.session.execute(select(TxMessage.email)).scalars().all() == ["qa@example.net"]
        assert _template().archived_at is None


@pytest.mark.config(**SETTINGS, TEST_SEND_RATE_LIMIT="2 per hour")
def test_test_sends_share_the_staff_members_limit(app, auth, worker, smtp_server):
    auth.post("/admin/transactional/new", data={**FORM, "csrf_token": _token(auth), "action": "save"})
    path = f"/admin/transactional/{_template().public_id}"
    answers = [
        auth.post(f"{path}/test", data={"csrf_token": _token(auth, path), "address": f"qa{n}@example.net"})
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert "Test sends are limited to 2 per hour" in answers[2].text
    worker.drain()
    assert len(smtp_server.messages) == 2
