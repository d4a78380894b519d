"""Saved segments through the API: create (422 naming the field for bad input), list, get, change, count (the
same count as the builder), members through /contacts?segment=, delete (409 while a campaign uses it);
read-only keys only read; every change audited with the key's prefix."""

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns.models import Campaign
from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from mailer.segments.models import Segment
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import subscriber


def _people():
    plan = field_service.define_field(
        "plan", "Plan", "ordinary", value_type="single_choice", choices="Free\nPro"
    )
    field_service.define_field("health", "Health condition", "sensitive")
    news = create_list("News")
    for n, answer in enumerate(["Pro", "Pro", "Free"]):
        field_service.set_value(subscriber(news, f"p{n}@example.com"), plan, answer)
    db.session.commit()


PRO = {"match": "all", "rules": [{"field": "field:plan", "op": "is", "value": "Pro"}]}


def test_create_count_list_change_and_delete_a_segment(api, app_ctx):
    _people()
    made = api.post("/segments", json={"name": "  Pro   plan ", "conditions": PRO})
    assert made.status_code == 201, made.get_json()
    segment = made.get_json()
    assert segment["name"] == "Pro plan" and segment["conditions"] == PRO and segment["id"]
    sid = segment["id"]

    assert api.get(f"/segments/{sid}").get_json() == segment
    assert api.get("/segments").get_json() == {"data": [segment], "next_cursor": None}
    assert api.get(f"/segments/{sid}/count").get_json() == {"segment_id": sid, "count": 2, "unseen": {}}
    members = api.get(f"/contacts?segment={sid}").get_json()["data"]
    assert sorted(item["email"] for item in members) == ["p0@example.com", "p1@example.com"]

    free = {"match": "any", "rules": [{"field": "field:plan", "op": "is", "value": "Free"}]}
    changed = api.patch(f"/segments/{sid}", json={"conditions": free})
    assert changed.status_code == 200 and changed.get_json()["name"] == "Pro plan"
    assert api.get(f"/segments/{sid}/count").get_json()["count"] == 1
    renamed = api.patch(f"/segments/{sid}", json={"name": "Free plan"}).get_json()
    assert renamed["name"] == "Free plan" and renamed["conditions"] == free

    campaign = Campaign(name="To free", subject="Hi", status="draft")
    campaign.segments = [db.session.execute(select(Segment)).scalar_one()]
    db.session.add(campaign)
    db.session.commit()
    kept = api.delete(f"/segments/{sid}")
    assert kept.status_code == 409 and "A campaign is sent to this segment" in kept.get_json()["error"]
    campaign.segments = []
    db.session.commit()
    assert api.delete(f"/segments/{sid}").status_code == 204
    assert api.get(f"/segments/{sid}").status_code == 404
    assert db.session.execute(select(Segment)).first() is None

    audited = db.session.execute(
        select(AuditEvent)
        .where(AuditEvent.action.in_(["segment.save", "segment.delete"]))
        .order_by(AuditEvent.id)
    ).scalars()
    rows = list(audited)
    assert [row.action for row in rows] == ["segment.save"] * 3 + ["segment.delete"]
    assert all(row.details["via"] == "api" and row.details["api_key"] for row in rows)


def test_bad_segments_are_refused_with_the_field_and_the_reason(api, app_ctx):
    _people()
    cases = [
        ({"conditions": PRO}, "name", "this field is required"),
        ({"name": "   ", "conditions": PRO}, "name", "Give the segment a name"),
        ({"name": "x" * 121, "conditions": PRO}, "name", "120 characters at most"),
        ({"name": "No rules"}, "conditions", "this field is required"),
        ({"name": "Odd", "conditions": []}, "conditions", "A segment is a group of conditions."),
        (
            {
                "name": "Sick",
                "conditions": {"match": "all", "rules": [{"field": "field:health", "op": "is_set"}]},
            },
            "conditions",
            "sensitive",
        ),
        (
            {
                "name": "Nope",
                "conditions": {
                    "match": "all",
                    "rules": [{"field": "list", "op": "confirmed", "value": "nope"}],
                },
            },
            "conditions",
            "there is no such list",
        ),
        ({"name": "Extra", "conditions": PRO, "owner": "me"}, "owner", "unknown field"),
    ]
    for body, field_name, words in cases:
        answer = api.post("/segments", json=body)
        assert answer.status_code == 422, body
        detail = answer.get_json()["detail"]
        assert list(detail) == [field_name] and words in detail[field_name], (body, detail)
    assert db.session.execute(select(Segment)).first() is None  # nothing half-written
    assert api.post("/segments", data="{", headers={"Content-Type": "application/json"}).status_code == 400
    assert api.post("/segments", data="name=x").status_code == 415
    sid = api.post("/segments", json={"name": "Pro", "conditions": PRO}).get_json()["id"]
    assert api.patch(f"/segments/{sid}", json={}).status_code == 422
    assert (
        api.patch(f"/segments/{sid}", json={"conditions": {"match": "maybe", "rules": []}}).status_code == 422
    )
    assert api.get(f"/segments/{sid}").get_json()["conditions"] == PRO  # unchanged
    for missing in ("nope", "x" * 300):
        assert api.get(f"/segments/{missing}").status_code == 404
        assert api.get(f"/segments/{missing}/count").status_code == 404
        assert api.patch(f"/segments/{missing}", json={"name": "a"}).status_code == 404
        assert api.delete(f"/segments/{missing}").status_code == 404


def test_read_only_keys_read_segments_but_cannot_change_them(api, read_api, app_ctx):
    _people()
    sid = api.post("/segments", json={"name": "Pro", "conditions": PRO}).get_json()["id"]
    assert read_api.get("/segments").status_code == 200
    assert read_api.get(f"/segments/{sid}/count").get_json()["count"] == 2
    assert read_api.post("/segments", json={"name": "B", "conditions": PRO}).status_code == 403
    assert read_api.patch(f"/segments/{sid}", json={"name": "B"}).status_code == 403
    assert read_api.delete(f"/segments/{sid}").status_code == 403
    assert api.get(f"/segments/{sid}").get_json()["name"] == "Pro"
