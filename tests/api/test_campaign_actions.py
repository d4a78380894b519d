"""Campaigns through the API as in the admin: a draft created and edited, a test, sent to real subscribers
over SMTP, its numbers read back; scheduling and the state moves, with the admin's rules and messages."""

from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import BODY, make_layout, subscriber


def _audience():
    news = create_list("News")
    people = [subscriber(news, f"reader{i}@example.com", f"Reader{i} Test") for i in range(2)]
    layout = make_layout()
    db.session.commit()
    return news, people, layout


def _draft(api, news, layout, **extra) -> dict:
    body = {"name": "Spring", "subject": "Spring news", "body": BODY, "layout": layout.public_id}
    answer = api.post("/campaigns", json={**body, "lists": [news.public_id], **extra})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_an_integration_creates_tests_sends_and_reads_a_campaign(api, app_ctx, worker, smtp_server):
    news, people, layout = _audience()
    draft = _draft(api, news, layout)
    assert draft["status"] == "draft" and draft["lists"] == [news.public_id]
    cid = draft["id"]

    edited = api.patch(f"/campaigns/{cid}", json={"subject": "Spring news for you"})
    assert edited.status_code == 200 and edited.get_json()["subject"] == "Spring news for you"

    test = api.post(f"/campaigns/{cid}/test", json={"addresses": ["qa@example.org"]})
    assert test.status_code == 202, test.get_json()
    worker.drain()
    [proof] = smtp_server.to("qa@example.org")
    assert "[TEST]" in proof.message["Subject"] and "Spring news for you" in proof.message["Subject"]

    sent = api.post(f"/campaigns/{cid}/send")
    assert sent.status_code == 202 and sent.get_json()["status"] == "sending", sent.get_json()
    worker.drain()
    for person in people:
        [mail] = smtp_server.to(person.email)
        assert mail.message["Subject"] == "Spring news for you"
        assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    stats = api.get(f"/campaigns/{cid}").get_json()
    assert stats["status"] == "sent" and stats["deliveries"]["sent"]["count"] == 2
    again = api.post(f"/campaigns/{cid}/send")
    assert again.status_code == 409 and again.get_json()["detail"] == {"status": "sent"}
    assert api.patch(f"/campaigns/{cid}", json={"name": "Changed"}).status_code == 422  # only drafts


def test_schedule_unschedule_and_moves_that_do_not_apply(api, read_api, app_ctx):
    news, _, layout = _audience()
    cid = _draft(api, news, layout)["id"]
    when = {"send_at": "2099-01-01T09:00", "timezone": "Europe/Rome"}
    for move in ("pause", "resume", "cancel", "unschedule"):
        refused = api.post(f"/campaigns/{cid}/{move}")
        assert refused.status_code == 409 and refused.get_json()["detail"] == {"status": "draft"}, move

    past = api.post(
        f"/campaigns/{cid}/schedule", json={"send_at": "2020-01-01T09:00", "timezone": "Europe/Rome"}
    )
    assert past.status_code == 422 and "passed" in past.get_json()["detail"]["send_at"]
    zone = api.post(
        f"/campaigns/{cid}/schedule", json={"send_at": "2099-01-01T09:00", "timezone": "Mars/Base"}
    )
    assert zone.status_code == 422 and "timezone" in zone.get_json()["detail"]
    planned = api.post(f"/campaigns/{cid}/schedule", json=when)
    assert planned.status_code == 200 and planned.get_json()["status"] == "scheduled"
    assert planned.get_json()["scheduled_at"] == "2099-01-01T08:00:00Z"
    assert api.post(f"/campaigns/{cid}/unschedule").get_json()["status"] == "draft"
    assert api.post(f"/campaigns/{cid}/schedule", json=when).status_code == 200
    assert api.post(f"/campaigns/{cid}/cancel").get_json()["status"] == "cancelled"

    assert read_api.post(f"/campaigns/{cid}/send").status_code == 403
    assert read_api.post("/campaigns", json={"name": "x"}).status_code == 403


def test_a_draft_refused_names_each_field(api, app_ctx):
    _, _, layout = _audience()
    answer = api.post("/campaigns", json={"name": "", "lists": ["nope"], "layout": layout.public_id})
    assert answer.status_code == 422 and answer.get_json()["detail"] == {"lists": "unknown id(s): nope"}
    answer = api.post("/campaigns", json={"name": "Spring", "layout": layout.public_id})
    detail = answer.get_json()["detail"]
    assert answer.status_code == 422 and {"subject", "body", "lists"} <= set(detail), detail
    assert api.post("/campaigns", json={"name": "x", "track_opens": "yes"}).status_code == 422
    assert api.patch("/campaigns/nope", json={"name": "x"}).status_code == 404


def test_copy_a_campaign_and_delete_a_draft_as_the_admin_does(api, read_api, app_ctx, worker, smtp_server):
    news, _, layout = _audience()
    draft = _draft(api, news, layout)
    copied = api.post(f"/campaigns/{draft['id']}/copy")
    assert copied.status_code == 201, copied.get_json()
    copy = copied.get_json()
    assert (copy["name"], copy["status"], copy["subject"], copy["lists"]) == (
        "Copy of Spring",
        "draft",
        "Spring news",
        [news.public_id],
    )
    assert copy["id"] != draft["id"]
    assert read_api.delete(f"/campaigns/{copy['id']}").status_code == 403
    assert api.delete(f"/campaigns/{copy['id']}").status_code == 204
    assert api.get(f"/campaigns/{copy['id']}").status_code == 404
    assert api.delete(f"/campaigns/{copy['id']}").status_code == 404

    assert api.post(f"/campaigns/{draft['id']}/send").status_code in (200, 202)
    worker.drain()
    refused = api.delete(f"/campaigns/{draft['id']}")
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "Only drafts that were never sent can be deleted."
    assert api.get(f"/campaigns/{draft['id']}").status_code == 200
    again = api.post(f"/campaigns/{draft['id']}/copy").get_json()  # a sent campaign copies into a new draft
    assert again["status"] == "draft" and again["name"] == "Copy of Spring"
    assert len(smtp_server.messages) == 2  # the two readers got the sent one; copying sent nothing
