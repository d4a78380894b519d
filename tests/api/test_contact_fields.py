"""Custom contact fields through the API: define (the admin's rules, 422 naming the input, 409 for a taken
key, Art. 10 refused, a sensitive field gets its consent purpose), list, get, retire and restore (audited),
values then checked by PATCH /contacts; read-only keys only read; live counts of unsaved conditions."""

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.consent.models import Purpose
from mailer.contacts.models.fields import ContactField
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import subscriber

PLAN = {
    "key": "plan",
    "label": "Plan",
    "category": "ordinary",
    "type": "single_choice",
    "choices": ["Free", "Pro"],
}


def test_define_list_get_retire_and_restore_a_field(api, app_ctx):
    made = api.post("/fields", json=PLAN)
    assert made.status_code == 201, made.get_json()
    field = made.get_json()
    assert field["key"] == "plan" and field["type"] == "single_choice" and field["choices"] == ["Free", "Pro"]
    assert field["active"] is True and field["purpose_id"] is None and field["category"] == "ordinary"
    assert api.get("/fields/plan").get_json() == field
    assert api.get("/fields").get_json() == {"data": [field], "next_cursor": None}

    health = api.post("/fields", json={"key": "health", "label": "Health condition", "category": "sensitive"})
    assert health.status_code == 201
    purpose_id = health.get_json()["purpose_id"]
    purpose = db.session.execute(select(Purpose).where(Purpose.public_id == purpose_id)).scalar_one()
    assert purpose.key == "field:health"  # its own explicit-consent purpose

    first = api.get("/fields?limit=1").get_json()
    assert [f["key"] for f in first["data"]] == ["plan"] and first["next_cursor"] == "plan"
    rest = api.get(f"/fields?limit=1&after={first['next_cursor']}").get_json()
    assert [f["key"] for f in rest["data"]] == ["health"] and rest["next_cursor"] is None

    # A value of the new field goes through the contact PATCH, by the field's own rule.
    contact = subscriber(create_list("News"), "ann@example.com")
    db.session.commit()
    assert api.patch(f"/contacts/{contact.public_id}", json={"fields": {"plan": "pro"}}).status_code == 200
    shown = api.get(f"/contacts/{contact.public_id}").get_json()["fields"]
    assert {"key": "plan", "value": "Pro"}.items() <= shown[0].items()
    wrong = api.patch(f"/contacts/{contact.public_id}", json={"fields": {"plan": "Gold"}})
    assert (
        wrong.status_code == 422 and "must be one of: Free, Pro" in wrong.get_json()["detail"]["fields.plan"]
    )

    retired = api.patch("/fields/plan", json={"active": False})
    assert retired.status_code == 200 and retired.get_json()["active"] is False
    assert [f["key"] for f in api.get("/fields").get_json()["data"]] == ["health"]
    assert [f["key"] for f in api.get("/fields?retired=true").get_json()["data"]] == ["plan"]
    assert len(api.get("/fields?retired=all").get_json()["data"]) == 2
    assert api.patch("/fields/plan", json={"active": True}).get_json()["active"] is True
    assert api.patch("/fields/plan", json={"active": True}).status_code == 200  # unchanged: not audited

    rows = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "settings.field").order_by(AuditEvent.id)
    ).scalars()
    details = [(row.target_id, row.details) for row in rows]
    assert [(key, d.get("created"), d.get("active")) for key, d in details] == [
        ("plan", True, None),
        ("health", True, None),
        ("plan", None, False),
        ("plan", None, True),
    ]
    assert all(d["via"] == "api" and d["api_key"] for _, d in details)


def test_bad_definitions_are_refused_naming_the_input(api, app_ctx):
    cases = [
        ({**PLAN, "key": "Bad Key"}, "key", "lower-case letters"),
        ({**PLAN, "label": "   "}, "label", "Give the field a label"),
        ({**PLAN, "category": "secret"}, "category", "must be one of: ordinary"),
        ({**PLAN, "type": "colour"}, "type", "must be one of: text"),
        ({**PLAN, "choices": ["Only"]}, "choices", "at least two choices"),
        ({**PLAN, "choices": ["A", "a"]}, "choices", "listed twice"),
        (
            {key: value for key, value in PLAN.items() if key != "choices"},
            "choices",
            "this field is required",
        ),
        ({**PLAN, "key": "past", "label": "Criminal convictions"}, "label", "Art. 10"),
        ({**PLAN, "quasi_identifier": "shoe_size"}, "quasi_identifier", "must be one of"),
        ({"label": "Plan", "category": "ordinary"}, "key", "this field is required"),
        ({**PLAN, "colour": "red"}, "colour", "unknown field"),
        ({**PLAN, "choices": "Free\nPro"}, "choices", "must be an array of strings"),
    ]
    for body, field_name, words in cases:
        answer = api.post("/fields", json=body)
        assert answer.status_code == 422, (body, answer.get_json())
        detail = answer.get_json()["detail"]
        assert list(detail) == [field_name] and words in detail[field_name], (body, detail)
    assert db.session.execute(select(ContactField)).first() is None  # nothing half-written

    assert api.post("/fields", json=PLAN).status_code == 201
    taken = api.post("/fields", json={**PLAN, "key": "PLAN"})
    assert taken.status_code == 409 and "already exists" in taken.get_json()["error"]
    for missing in ("nope", "x" * 300):
        assert api.get(f"/fields/{missing}").status_code == 404
        assert api.patch(f"/fields/{missing}", json={"active": False}).status_code == 404
    assert api.patch("/fields/plan", json={}).get_json()["detail"] == {"active": "this field is required"}
    assert api.patch("/fields/plan", json={"active": "no"}).status_code == 422
    assert api.get("/fields?retired=maybe").status_code == 422


def test_read_only_keys_read_fields_but_cannot_change_them(api, read_api, app_ctx):
    api.post("/fields", json=PLAN)
    assert read_api.get("/fields").status_code == 200
    assert read_api.get("/fields/plan").get_json()["key"] == "plan"
    assert read_api.post("/fields", json={**PLAN, "key": "tier"}).status_code == 403
    assert read_api.patch("/fields/plan", json={"active": False}).status_code == 403
    assert api.get("/fields/plan").get_json()["active"] is True


def test_unsaved_conditions_are_counted_like_the_builder(api, read_api, app_ctx):
    api.post("/fields", json=PLAN)
    api.post("/fields", json={"key": "health", "label": "Health condition", "category": "sensitive"})
    news = create_list("News")
    for n, answer in enumerate(["pro", "Pro", "Free"]):
        api.patch(
            f"/contacts/{subscriber(news, f'p{n}@example.com').public_id}", json={"fields": {"plan": answer}}
        )
    db.session.commit()
    pro = {"match": "all", "rules": [{"field": "field:plan", "op": "is", "value": "Pro"}]}
    counted = api.post("/segments/count", json={"conditions": pro})
    assert counted.status_code == 200 and counted.get_json() == {"count": 2, "unseen": {}}
    either = {"match": "any", "rules": [pro, {"field": "field:plan", "op": "is", "value": "Free"}]}
    assert read_api.post("/segments/count", json={"conditions": either}).get_json()["count"] == 3
    assert api.get("/segments").get_json()["data"] == []  # nothing was saved

    sensitive = {"match": "all", "rules": [{"field": "field:health", "op": "is_set"}]}
    for conditions, words in [
        (sensitive, "sensitive"),
        ({"match": "maybe", "rules": []}, ""),
        ([], "A segment is a group of conditions."),
    ]:
        answer = api.post("/segments/count", json={"conditions": conditions})
        assert answer.status_code == 422 and words in answer.get_json()["detail"]["conditions"]
    assert api.post("/segments/count", json={}).get_json()["detail"] == {
        "conditions": "this field is required"
    }
    # A read-only key may count, yet still may not save.
    assert read_api.post("/segments", json={"name": "Pro", "conditions": pro}).status_code == 403
