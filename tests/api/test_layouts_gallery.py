"""Layouts and the template gallery through the API (issue 15, API parity): the admin's layout checks, a
campaign started from a starter and from a saved template, sent to a real SMTP server in the layout made
through the API."""

import pytest
from sqlalchemy import select

from mailer.campaigns.models import Layout
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import LAYOUT, subscriber

BRANDED = LAYOUT.replace("{{ content }}", '<div class="brand">Greengrocers weekly</div>\n{{ content }}')


def _audience():
    news = create_list("News")
    person = subscriber(news, "reader@example.com", "Reader Test")
    db.session.commit()
    return news, person


def test_a_layout_made_through_the_api_frames_a_campaign_from_a_starter(api, app_ctx, worker, smtp_server):
    news, person = _audience()
    made = api.post("/layouts", json={"name": "Greengrocers", "html": BRANDED})
    assert made.status_code == 201, made.get_json()
    layout = made.get_json()
    assert layout["verified"] is True and layout["builtin"] is False and layout["used_by"] == 0

    starters = api.get("/templates/starters").get_json()["data"]
    assert {"newsletter", "announcement", "letter"} <= {s["key"] for s in starters}
    assert all(
        "markdown" in s["formats"] for s in api.get("/templates/starters?format=markdown").get_json()["data"]
    )

    draft = api.post(
        "/templates/starters/announcement/campaigns",
        json={"lists": [news.public_id], "layout": layout["id"], "subject": "Our second shop opens"},
    )
    assert draft.status_code == 201, draft.get_json()
    campaign = draft.get_json()
    assert campaign["name"] == "Announcement" and campaign["status"] == "draft"
    assert api.get(f"/layouts/{layout['id']}").get_json()["used_by"] == 1
    assert api.delete(f"/layouts/{layout['id']}").status_code == 409  # a campaign uses it

    sent = api.post(f"/campaigns/{campaign['id']}/send")
    assert sent.status_code == 202, sent.get_json()
    worker.drain()
    [mail] = smtp_server.to(person.email)
    assert mail.message["Subject"] == "Our second shop opens"
    html = mail.message.get_body(("html",)).get_content()
    assert "Greengrocers weekly" in html and "second shop" in html


def test_a_campaign_kept_as_a_template_starts_the_next_one(api, app_ctx, worker, smtp_server):
    news, person = _audience()
    first = api.post(
        "/templates/starters/letter/campaigns",
        json={"lists": [news.public_id], "format": "markdown", "subject": "A note from the shop"},
    ).get_json()
    kept = api.post(f"/campaigns/{first['id']}/template", json={"name": "Shop letter"})
    assert kept.status_code == 201, kept.get_json()
    template = kept.get_json()
    assert template["name"] == "Shop letter" and template["body_format"] == "markdown"
    assert template["subject"] == "A note from the shop" and template["body"]
    assert [t["id"] for t in api.get("/templates").get_json()["data"]] == [template["id"]]

    second = api.post(
        f"/templates/{template['id']}/campaigns", json={"lists": [news.public_id], "name": "Next letter"}
    )
    assert second.status_code == 201, second.get_json()
    assert second.get_json()["name"] == "Next letter"
    assert second.get_json()["subject"] == "A note from the shop"
    assert api.post(f"/campaigns/{second.get_json()['id']}/send").status_code == 202
    worker.drain()
    [mail] = smtp_server.to(person.email)
    assert mail.message["Subject"] == "A note from the shop"

    assert api.delete(f"/templates/{template['id']}").status_code == 204
    assert api.get(f"/templates/{template['id']}").status_code == 404
    assert api.get(f"/campaigns/{second.get_json()['id']}").status_code == 200  # campaigns keep their content


def test_layout_rules_are_the_admins(api, app_ctx):
    missing = api.post("/layouts", json={"name": "Bare", "html": "<html><body>{{ content }}</body></html>"})
    assert missing.status_code == 422
    problems = missing.get_json()["detail"]["problems"]
    assert len(problems) >= 2 and any("unsubscribe" in p.lower() for p in problems)
    escape = BRANDED.replace("{{ content }}", "{{ content }}{{ ''.__class__.__mro__[1].__subclasses__() }}")
    sandboxed = api.post("/layouts", json={"name": "Escape", "html": escape})
    assert sandboxed.status_code == 422, sandboxed.get_json()
    assert "can't be rendered" in sandboxed.get_json()["detail"]["problems"][0]
    assert db.session.execute(select(Layout).where(Layout.builtin.is_(False))).first() is None

    builtin = next(item for item in api.get("/layouts").get_json()["data"] if item["builtin"])
    assert "html" not in builtin
    changed = api.patch(f"/layouts/{builtin['id']}", json={"name": "Mine"})
    assert changed.status_code == 409
    assert api.delete(f"/layouts/{builtin['id']}").status_code == 409
    copy = api.post(f"/layouts/{builtin['id']}/copy")
    assert copy.status_code == 201 and copy.get_json()["name"] == f"Copy of {builtin['name']}"
    renamed = api.patch(f"/layouts/{copy.get_json()['id']}", json={"name": "Ours"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Ours"
    broken = api.patch(f"/layouts/{copy.get_json()['id']}", json={"html": "<p>{{ content }}</p>"})
    assert broken.status_code == 422
    assert api.get(f"/layouts/{copy.get_json()['id']}").get_json()["html"] != "<p>{{ content }}</p>"
    assert api.delete(f"/layouts/{copy.get_json()['id']}").status_code == 204
    assert api.get(f"/layouts/{copy.get_json()['id']}").status_code == 404


@pytest.mark.parametrize(
    "path, body",
    [
        ("/layouts", {"name": 3, "html": BRANDED}),
        ("/layouts", {"name": "x" * 121, "html": BRANDED}),
        ("/layouts", {"name": "Nul", "html": "a\u0000b"}),
        ("/templates/starters/newsletter/campaigns", {"format": "pdf"}),
        ("/templates/starters/newsletter/campaigns", {"lists": "all"}),
    ],
)
def test_wrong_input_is_422(api, app_ctx, path, body):
    assert api.post(path, json=body).status_code == 422


def test_gallery_refusals(api, read_api, app_ctx):
    news, _ = _audience()
    assert api.post("/templates/starters/nope/campaigns", json={"lists": [news.public_id]}).status_code == 404
    no_md = api.post(
        "/templates/starters/event/campaigns", json={"lists": [news.public_id], "format": "markdown"}
    )
    assert no_md.status_code == 422 and "format" in no_md.get_json()["detail"]
    no_audience = api.post("/templates/starters/newsletter/campaigns", json={})
    assert no_audience.status_code == 422
    draft = api.post("/templates/starters/newsletter/campaigns", json={"lists": [news.public_id]}).get_json()
    assert api.post(f"/campaigns/{draft['id']}/template", json={"name": "  "}).status_code == 422
    assert read_api.post(f"/campaigns/{draft['id']}/template", json={"name": "Mine"}).status_code == 403
    big = api.post("/layouts", json={"name": "Big", "html": "x" * 40_000})
    assert big.status_code == 413
