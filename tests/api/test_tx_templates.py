"""/api/v1/tx-templates and GET /api/v1/tx (issue 15, API parity): an integration manages transactional
templates as the admin does (same checks: the sandbox, the key, the sizes), previews them with merge data,
sends a test that arrives over SMTP, and reads the sent log by template and status."""

import pytest
from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.contacts.operations import email_hash
from mailer.contacts.suppression import suppress
from mailer.core.extensions import db
from mailer.transactional.models import TxTemplate
from tests.transactional.helpers import SETTINGS, reset_template

NEW = {
    "key": "order-shipped",
    "name": "Order shipped",
    "subject": "Order {{ data.order_number }} is on its way",
    "body": "Hello {{ contact.first_name | default('there') }},\n\nOrder **{{ data.order_number }}** left.\n",
}
POWER_BODY = "Result: {{ (data.base | default(2)) ** (data.power | default(2)) }}"


def _templates() -> int:
    return db.session.execute(select(func.count()).select_from(TxTemplate)).scalar_one()


def _audited(action: str) -> list[str]:
    """The targets of the audit rows of this action, each made through the API (named with the key)."""
    rows = list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())
    assert all(row.details.get("via") == "api" and len(row.details["api_key"]) == 8 for row in rows), rows
    return [row.target_id for row in rows]


@pytest.mark.config(**SETTINGS)
def test_an_integration_creates_changes_archives_and_restores_a_template(app_ctx, api, read_api):
    created = api.post("/tx-templates", json=NEW)
    assert created.status_code == 201, created.json
    template = created.json
    assert (template["key"], template["body_format"], template["archived"], template["relay"]) == (
        "order-shipped",
        "markdown",
        False,
        None,
    )
    assert template["body"] == NEW["body"] and _audited("tx_template.created") == [template["id"]]

    shown = read_api.get(f"/tx-templates/{template['id']}")
    assert shown.status_code == 200 and shown.json["subject"] == NEW["subject"]
    listed = read_api.get("/tx-templates").json
    assert [t["id"] for t in listed["data"]] == [template["id"]] and "body" not in listed["data"][0]

    changed = api.patch(
        f"/tx-templates/{template['id']}",
        json={"subject": "Shipped: {{ data.order_number }}", "reply_to": ""},
    )
    assert changed.status_code == 200, changed.json
    assert (
        changed.json["subject"] == "Shipped: {{ data.order_number }}" and changed.json["body"] == NEW["body"]
    )
    assert api.patch(f"/tx-templates/{template['id']}", json={}).status_code == 422

    archived = api.post(f"/tx-templates/{template['id']}/archive")
    assert archived.status_code == 200 and archived.json["archived"] is True
    refused = api.post("/tx", json={"template": "order-shipped", "email": "ann@example.net"})
    assert refused.status_code == 409 and "archived" in refused.json["error"]
    assert api.post(f"/tx-templates/{template['id']}/archive").status_code == 409
    assert read_api.get("/tx-templates").json["data"] == []
    assert [t["id"] for t in read_api.get("/tx-templates?archived=true").json["data"]] == [template["id"]]

    restored = api.post(f"/tx-templates/{template['id']}/unarchive")
    assert restored.status_code == 200 and restored.json["archived"] is False
    assert api.post(f"/tx-templates/{template['id']}/unarchive").status_code == 409
    sent = api.post(
        "/tx", json={"template": "order-shipped", "email": "ann@example.net", "data": {"order_number": "7"}}
    )
    assert sent.status_code == 202, sent.json
    assert _audited("tx_template.archived") == [template["id"]] == _audited("tx_template.restored")

    assert read_api.post("/tx-templates", json={**NEW, "key": "other"}).status_code == 403
    assert read_api.patch(f"/tx-templates/{template['id']}", json={"name": "x"}).status_code == 403
    assert read_api.get("/tx-templates/nope").status_code == 404


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"body": "Hello {{ data.name "}, "The content has a template error on line 1"),
        ({"subject": "Hi {% if %}"}, "The subject has a template error on line 1"),
        ({"body": "{{ 10 ** 100000 }}"}, "too large to show"),
        ({"key": "Not A Key"}, "The key must be 1–64 lower-case letters"),
        ({"key": "password-reset"}, "Another template already has the key “password-reset”"),
        ({"reply_to": "not an address"}, "The reply-to address is not a valid email address."),
        ({"body": "   "}, "The template has no content yet."),
    ],
)
@pytest.mark.config(**SETTINGS)
def test_a_template_the_admin_would_refuse_is_a_422_listing_the_problem(app_ctx, api, changes, problem):
    reset_template()
    before = _templates()
    answer = api.post("/tx-templates", json={**NEW, **changes})
    assert answer.status_code == 422, answer.json
    assert any(problem in text for text in answer.json["detail"]["problems"]), answer.json
    assert answer.json["error"].startswith("The template was not saved")
    assert _templates() == before


@pytest.mark.config(**SETTINGS)
def test_shapes_are_checked_before_the_rules(app_ctx, api):
    answers = {
        "body_format": api.post("/tx-templates", json={**NEW, "body_format": "pdf"}),
        "relay": api.post("/tx-templates", json={**NEW, "relay": "nowhere"}),
        "subject": api.post("/tx-templates", json={**NEW, "subject": "x" * 301}),
        "key": api.post("/tx-templates", json={k: v for k, v in NEW.items() if k != "key"}),
        "colour": api.post("/tx-templates", json={**NEW, "colour": "red"}),
    }
    for field, answer in answers.items():
        assert answer.status_code == 422 and field in answer.json["detail"], (field, answer.json)
    assert _templates() == 0


@pytest.mark.config(**SETTINGS)
def test_a_preview_renders_the_stored_template_or_says_what_the_sandbox_refused(app_ctx, api, read_api):
    template = reset_template()
    preview = read_api.post(
        f"/tx-templates/{template.public_id}/preview",
        json={"data": {"reset_url": "https://shop.example/r/1", "code": "482913"}},
    )
    assert preview.status_code == 200, preview.json
    assert preview.json["subject"] == "Your code 482913"
    assert 'href="https://shop.example/r/1"' in preview.json["html"] and "Hello Jane" in preview.json["html"]
    assert "482913" in preview.json["text"]
    sample = read_api.post(f"/tx-templates/{template.public_id}/preview", json={})
    assert sample.status_code == 200 and "https://www.example.com/reset/sample" in sample.json["html"]

    power = api.post("/tx-templates", json={**NEW, "key": "power", "body": POWER_BODY}).json
    refused = read_api.post(
        f"/tx-templates/{power['id']}/preview", json={"data": {"base": 10, "power": 100000}}
    )
    assert refused.status_code == 422
    assert "too large to show" in refused.json["detail"]["problem"]
    assert refused.json["error"].startswith("The template can't be rendered with this data")
    not_object = read_api.post(f"/tx-templates/{template.public_id}/preview", json={"data": [1]})
    assert not_object.status_code == 422 and "data" in not_object.json["detail"]


@pytest.mark.config(**SETTINGS, TX_MAX_DATA_BYTES=100)
def test_an_unsaved_template_is_previewed_like_the_editors_preview_button(app_ctx, read_api):
    draft = read_api.post(
        "/tx-templates/preview",
        json={
            "subject": "Order {{ data.order_number }}",
            "body": "<p>Hi {{ contact.name }}</p>",
            "body_format": "html",
        },
    )
    assert draft.status_code == 200, draft.json
    assert draft.json["subject"] == "Order 1001" and "Hi Jane Doe</p>" in draft.json["html"]
    unsafe = read_api.post(
        "/tx-templates/preview", json={"subject": "x", "body": "{{ range(200000) | length }}"}
    )
    assert unsafe.status_code == 422 and "range" in unsafe.json["detail"]["problem"], unsafe.json
    broken = read_api.post("/tx-templates/preview", json={"subject": "x", "body": "{% for %}"})
    assert broken.status_code == 422 and "line 1" in broken.json["detail"]["problem"]
    large = read_api.post(
        "/tx-templates/preview", json={"subject": "x", "body": "y", "data": {"k": "v" * 200}}
    )
    assert large.status_code == 413 and "at most 100 are accepted" in large.json["error"]
    assert _templates() == 0


@pytest.mark.config(**SETTINGS)
def test_a_test_send_arrives_and_shows_in_the_sent_log(app_ctx, api, read_api, worker, smtp_server):
    template = reset_template()
    answer = api.post(
        f"/tx-templates/{template.public_id}/test",
        json={"email": "Dev@Shop.example", "data": {"reset_url": "https://shop.example/r/9", "code": "77"}},
    )
    assert answer.status_code == 202, answer.json
    assert answer.json["status"] == "queued" and answer.json["template"] == "password-reset"
    worker.drain()
    [received] = smtp_server.to("dev@shop.example")
    assert received.message["Subject"] == "[TEST] Your code 77"
    assert "https://shop.example/r/9" in received.message.get_body(("html",)).get_content()
    assert _audited("tx_template.test") == [template.public_id]

    [logged] = read_api.get("/tx").json["data"]
    assert (logged["id"], logged["status"], logged["test"], logged["email"]) == (
        answer.json["id"],
        "sent",
        True,
        "dev@shop.example",
    )
    assert "data" not in logged

    suppress(email_hash("gone@example.org"), "unsubscribed")
    db.session.commit()
    refused = api.post(f"/tx-templates/{template.public_id}/test", json={"email": "gone@example.org"})
    assert refused.status_code == 422 and refused.json["detail"] == {"reason": "suppressed"}
    bad = api.post(f"/tx-templates/{template.public_id}/test", json={"email": "not-an-address"})
    assert bad.status_code == 422 and "email" in bad.json["detail"]
    assert (
        read_api.post(f"/tx-templates/{template.public_id}/test", json={"email": "a@b.example"}).status_code
        == 403
    )
    worker.drain()
    assert len(smtp_server.messages) == 1


@pytest.mark.config(**SETTINGS)
def test_the_sent_log_pages_newest_first_by_template_and_status(app_ctx, api, read_api, worker, smtp_server):
    reset_template()
    api.post("/tx-templates", json=NEW)
    ids = []
    for number, (key, data) in enumerate(
        [
            ("password-reset", {"reset_url": "https://shop.example/r", "code": "1"}),
            ("order-shipped", {"order_number": "2"}),
            ("password-reset", {"reset_url": "https://shop.example/r", "code": "3"}),
        ]
    ):
        sent = api.post("/tx", json={"template": key, "email": f"p{number}@example.net", "data": data})
        assert sent.status_code == 202, sent.json
        ids.append(sent.json["id"])
    worker.drain()

    everything = read_api.get("/tx").json
    assert [m["id"] for m in everything["data"]] == ids[::-1] and everything["next_cursor"] is None
    resets = read_api.get("/tx?template=password-reset&limit=1").json
    assert [m["id"] for m in resets["data"]] == [ids[2]] and resets["next_cursor"] == ids[2]
    following = read_api.get(f"/tx?template=password-reset&limit=1&after={resets['next_cursor']}").json
    assert [m["id"] for m in following["data"]] == [ids[0]] and following["next_cursor"] is None
    assert [m["status"] for m in everything["data"]] == ["sent"] * 3
    assert read_api.get("/tx?status=queued").json["data"] == []
    assert len(read_api.get("/tx?status=sent").json["data"]) == 3

    assert read_api.get("/tx?template=nope").json["detail"] == {"template": "no template has this key"}
    assert read_api.get("/tx?status=lost").status_code == 422
    assert read_api.get("/tx?after=unknown1").status_code == 422
    assert read_api.get("/tx?limit=0").status_code == 422
    assert read_api.get("/tx?colour=red").status_code == 422
