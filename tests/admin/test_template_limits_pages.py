"""Template limits as people meet them: the campaign preview for every role, the editor's live preview, the
layout editor and its save, and sending, where a message over a limit fails alone with the reason."""

import pytest
from sqlalchemy import select

from mailer.campaigns import lifecycle as campaigns
from mailer.core.extensions import db
from mailer.delivery.models import Delivery, OutboxMessage
from mailer.staff.models.accounts import ROLES
from tests.admin.test_campaign_pages import editor_fields
from tests.support.campaigns import LAYOUT, newsletter
from tests.support.http import csrf_token, staff_client
from tests.support.signup import page

NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
CASES = [
    ("recursive macro", "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "levels deep"),
    ("30 MB string", "{{ 'a' * 30000000 }}", "The template produces more than 1 MB"),
    ("10^10 loop steps", NESTED_LOOPS, "The template takes too long to render"),
]
pytestmark = pytest.mark.config(TEMPLATE_RENDER_SECONDS=0.5)


@pytest.mark.parametrize("name,body,message", CASES, ids=[case[0] for case in CASES])
def test_the_campaign_preview_explains_the_limit_to_every_role(app, name, body, message):
    with app.app_context():
        campaign, _ = newsletter(1, body=body)
        public_id = campaign.public_id
    for role in ROLES:
        client = staff_client(app, role)
        for url in (
            f"/admin/campaigns/{public_id}/preview",
            f"/admin/campaigns/{public_id}/preview.html",
            f"/admin/campaigns/{public_id}",
        ):
            response = client.get(url)
            assert response.status_code == 200, (role, url, response.status_code)
            if "preview" in url:
                assert message in page(response), (role, url)


@pytest.mark.parametrize("name,body,message", CASES, ids=[case[0] for case in CASES])
def test_the_editor_test_send_and_layout_editor_explain_the_limit(app, auth, demo_form, name, body, message):
    live = auth.post("/admin/campaigns/preview.json", data=editor_fields(auth, body=body))
    assert live.status_code == 200 and live.get_json()["ok"] is False and message in live.get_json()["error"]

    with app.app_context():
        campaign, _ = newsletter(1, body=body)
        public_id = campaign.public_id
    token = csrf_token(auth.get(f"/admin/campaigns/{public_id}").text)
    test_send = auth.post(
        f"/admin/campaigns/{public_id}/test", data={"csrf_token": token, "addresses": "me@example.com"}
    )
    assert test_send.status_code == 400 and message in page(test_send)

    html = LAYOUT.replace("{{ content }}", "{{ content }}" + body)
    token = csrf_token(auth.get("/admin/layouts/new").text)
    layout_live = auth.post(
        "/admin/layouts/preview.json", data={"csrf_token": token, "name": "L", "html": html}
    )
    assert layout_live.status_code == 200
    assert any(message in problem for problem in layout_live.get_json()["problems"])
    saved = auth.post("/admin/layouts/new", data={"csrf_token": token, "name": "Heavy", "html": html})
    assert saved.status_code == 400 and message in page(saved)


@pytest.mark.config(MAILER_POSTAL_ADDRESS="Example Ltd, 1 Main St, Berlin")
def test_at_send_time_a_message_over_a_limit_fails_alone_with_the_reason(app, app_ctx, worker):
    """The sample person renders fine, so the campaign starts;
    one recipient's data makes their message too slow."""
    body = (
        "Hello {% if contact.first_name == 'Person1' %}"
        + NESTED_LOOPS
        + "{% endif %}{{ contact.first_name }}"
    )
    campaign, people = newsletter(3, body=body)
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    db.session.expire_all()
    outcome = {
        d.contact_id: (d.status, d.reason or "")
        for d in db.session.execute(select(Delivery).where(Delivery.campaign_id == campaign.id)).scalars()
    }
    slow = next(p for p in people if p.name.startswith("Person1"))
    status, reason = outcome.pop(slow.id)
    assert status == "failed" and "The template takes too long to render" in reason
    assert all(status == "sent" for status, _ in outcome.values())
    received = set(db.session.execute(select(OutboxMessage.rcpt_to)).scalars())
    assert received == {p.email for p in people if p.id != slow.id}
