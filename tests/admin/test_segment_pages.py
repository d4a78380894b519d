"""The segment builder without scripts: rows added and removed by the form's buttons, the count, saving
(audited), bad input answered with a reason, sensitive fields offered disabled; the live-count endpoint."""

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from mailer.segments.models import Segment
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import subscriber
from tests.support.http import csrf_token, staff_client


def _people():
    plan = field_service.define_field(
        "plan", "Plan", "ordinary", value_type="single_choice", choices="Free\nPro"
    )
    field_service.define_field("health", "Health condition", "sensitive")
    news = create_list("News")
    for n, answer in enumerate(["Pro", "Pro", "Free"]):
        field_service.set_value(subscriber(news, f"p{n}@example.com"), plan, answer)
    db.session.commit()


def test_build_count_and_save_a_segment_without_scripts(app, app_ctx, auth):
    _people()
    page = auth.get("/admin/segments/new")
    assert page.status_code == 200
    assert "Health condition (sensitive: never used to select people)</option>" in page.text
    assert '<option value="field:health" disabled>' in page.text
    token = csrf_token(page.text)
    data = {
        "csrf_token": token,
        "name": "Pro plan",
        "match": "all",
        "g0-match": "all",
        "g0-r0-field": "field:plan",
    }
    # Choosing a field and pressing Count shows its operators and values.
    page = auth.post("/admin/segments/new", data=data | {"action": "count"})
    assert page.status_code == 400  # no operator yet: said, not a crash
    assert '<option value="is">is</option>' in page.text
    assert '<option value="Pro">Pro</option>' in page.text
    data |= {"g0-r0-op": "is", "g0-r0-value": "Pro"}
    page = auth.post("/admin/segments/new", data=data | {"action": "count"})
    assert "2 contacts match" in page.text
    page = auth.post("/admin/segments/new", data=data | {"action": "add-rule-0"})
    assert 'name="g0-r1-field"' in page.text
    page = auth.post("/admin/segments/new", data=data | {"action": "add-group"})
    assert 'name="g1-r0-field"' in page.text
    answer = auth.post("/admin/segments/new", data=data | {"action": "save"}, follow_redirects=True)
    assert "Segment “Pro plan” saved." in answer.text
    assert "2 contacts match" in answer.text
    segment = db.session.execute(select(Segment)).scalar_one()
    assert segment.tree == {
        "match": "all",
        "rules": [{"match": "all", "rules": [{"field": "field:plan", "op": "is", "value": "Pro"}]}],
    }
    assert "Pro plan" in auth.get("/admin/segments").text
    answer = auth.post(
        f"/admin/segments/{segment.public_id}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Segment “Pro plan” deleted." in answer.text
    actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
    assert [a for a in actions if a.startswith("segment.")] == ["segment.save", "segment.delete"]


def test_bad_input_is_a_clear_4xx(app, app_ctx, auth):
    _people()
    token = csrf_token(auth.get("/admin/segments/new").text)
    base = {"csrf_token": token, "name": "x", "match": "all", "g0-match": "all"}
    sensitive = auth.post(
        "/admin/segments/new",
        data=base | {"g0-r0-field": "field:health", "g0-r0-op": "is_set", "action": "save"},
    )
    assert sensitive.status_code == 400
    assert "sensitive field" in sensitive.text
    nameless = auth.post(
        "/admin/segments/new",
        data=base | {"name": "", "g0-r0-field": "bounced", "g0-r0-op": "yes", "action": "save"},
    )
    assert nameless.status_code == 400 and "Give the segment a name" in nameless.text
    hostile = auth.post(
        "/admin/segments/new",
        data=base
        | {
            "match": "'; DROP TABLE contacts; --",
            "g0-r0-field": "status",
            "g0-r0-op": "is",
            "g0-r0-value": "x" * 1000,
            "g99999-r1-field": "x",
            "action": "save",
        },
    )
    assert hostile.status_code == 400
    assert db.session.execute(select(Segment)).first() is None
    assert (
        auth.post("/admin/segments/new", data={"name": "x", "action": "save"}).status_code == 400
    )  # no CSRF
    assert auth.get("/admin/segments/nope").status_code == 404


def test_live_count_endpoint(app, app_ctx, auth):
    _people()
    token = csrf_token(auth.get("/admin/segments/new").text)
    form = {
        "csrf_token": token,
        "match": "all",
        "g0-match": "any",
        "g0-r0-field": "field:plan",
        "g0-r0-op": "is",
        "g0-r0-value": "Free",
        "g0-r1-field": "email_domain",
        "g0-r1-op": "is",
        "g0-r1-value": "example.com",
    }
    answer = auth.post("/admin/segments/count", data=form)
    assert answer.status_code == 200
    assert answer.json == {"count": 3, "unseen": {}, "count_text": "3 contacts match", "unseen_text": ""}
    answer = auth.post("/admin/segments/count", data=form | {"g0-r0-value": "Gold"})
    assert answer.status_code == 400
    assert "must be one of: Free, Pro" in answer.json["error"]
    assert auth.post("/admin/segments/count", data={"csrf_token": token}).status_code == 400


def test_viewers_see_segments_but_cannot_change_them(app):
    with app.app_context():
        _people()
    viewer = staff_client(app, "viewer")
    assert viewer.get("/admin/segments").status_code == 200
    assert "New segment" not in viewer.get("/admin/segments").text
    assert viewer.get("/admin/segments/new").status_code == 403
