"""Journey editing through the API (issue 15, API parity): an integration builds a welcome series, runs it
(real worker, real SMTP) and reads each step's numbers; the builder's rules and messages apply."""

from sqlalchemy import select

from mailer.contacts import tags as contact_tags
from mailer.core.extensions import db
from mailer.journeys import engine
from mailer.journeys.models import Journey
from tests.journeys.test_engine import SECOND, WELCOME, _list, subjects, tick, time_passes
from tests.support.campaigns import make_layout, subscriber


def _journey(api, news, layout, **extra) -> dict:
    body = {"name": "Welcome", "trigger": "api", "list_id": news.public_id, "layout_id": layout.public_id}
    made = api.post("/journeys", json={**body, **extra})
    assert made.status_code == 201, made.get_json()
    return made.get_json()


def _add(api, journey_id: str, **step) -> dict:
    added = api.post(f"/journeys/{journey_id}/steps", json=step)
    assert added.status_code == 201, added.get_json()
    return added.get_json()


def test_an_integration_builds_runs_and_reads_a_welcome_series(app_ctx, api, worker, smtp_server):
    news = _list("News")
    lea = subscriber(news, "lea@example.com", "Lea")
    layout = make_layout()
    db.session.commit()
    journey = _journey(api, news, layout)
    assert journey["status"] == "paused" and journey["step_details"] == []
    jid = journey["id"]
    second = _add(api, jid, kind="send", subject="Your second day", body=SECOND)
    first = _add(api, jid, kind="send", subject="Welcome", body=WELCOME, position=0)
    wait = _add(api, jid, kind="wait", wait_mode="duration", wait_days=2, position=1)
    assert wait["settings"] == {"mode": "duration", "seconds": 2 * 86400}
    order = [s["id"] for s in api.get(f"/journeys/{jid}").get_json()["step_details"]]
    assert order == [first["id"], wait["id"], second["id"]]

    fixed = api.patch(f"/journeys/{jid}/steps/{first['id']}", json={"subject": "Welcome aboard"})
    assert fixed.status_code == 200 and fixed.get_json()["subject"] == "Welcome aboard"
    assert fixed.get_json()["body"] == WELCOME  # left as it was

    started = api.post(f"/journeys/{jid}/activate")
    assert started.status_code == 200 and started.get_json()["status"] == "active", started.get_json()
    assert api.post(f"/journeys/{jid}/enrol", json={"contact_id": lea.public_id}).status_code == 202
    engine.advance_due()
    worker.drain()
    assert subjects(smtp_server, "lea@example.com") == ["Welcome aboard"]

    paused = api.post(f"/journeys/{jid}/pause").get_json()
    assert paused["status"] == "paused"
    time_passes(_model(jid))
    tick(worker)
    assert subjects(smtp_server, "lea@example.com") == ["Welcome aboard"]  # paused: nothing moves
    assert api.post(f"/journeys/{jid}/resume").get_json()["status"] == "active"
    tick(worker)
    tick(worker)
    assert subjects(smtp_server, "lea@example.com") == ["Welcome aboard", "Your second day"]

    steps = api.get(f"/journeys/{jid}").get_json()["step_details"]
    assert [(s["kind"], s["stats"]["entered"], s["stats"]["sent"]) for s in steps] == [
        ("send", 1, 1),
        ("wait", 1, 0),
        ("send", 1, 1),
    ]


def _model(public_id: str) -> Journey:
    return db.session.execute(select(Journey).where(Journey.public_id == public_id)).scalar_one()


def test_branches_tags_lists_moves_and_deletes_follow_the_builders_rules(app_ctx, api, read_api):
    news, other = _list("News"), _list("Offers")
    contact_tags.ensure_tag("vip")
    layout = make_layout()
    db.session.commit()
    jid = _journey(api, news, layout)["id"]
    assert api.post(f"/journeys/{jid}/activate").status_code == 409  # no steps yet
    tag = _add(api, jid, kind="add_tag", tag="vip")
    assert tag["settings"] == {"tag": "vip"}
    end = _add(api, jid, kind="end")
    branch = _add(
        api, jid, kind="branch", branch_on="list", list_id=other.public_id, else_step_id=end["id"], position=0
    )
    assert branch["settings"] == {"on": "list", "list_id": other.public_id, "else": end["id"]}
    added = _add(api, jid, kind="add_list", list_id=other.public_id, basis="double_opt_in")
    assert added["settings"]["list_id"] == other.public_id

    named = api.delete(f"/journeys/{jid}/steps/{end['id']}")
    assert named.status_code == 409 and "names this step" in named.get_json()["error"]
    moved = api.post(f"/journeys/{jid}/steps/{tag['id']}/move", json={"direction": "up"})
    assert [s["id"] for s in moved.get_json()["step_details"]][:2] == [tag["id"], branch["id"]]
    assert api.delete(f"/journeys/{jid}/steps/{added['id']}").status_code == 204
    assert len(api.get(f"/journeys/{jid}").get_json()["step_details"]) == 3

    refusals = [
        ({"kind": "add_tag", "tag": "nobody-has-this"}, "tag"),
        ({"kind": "wait", "wait_mode": "duration"}, "journey"),
        ({"kind": "wait", "wait_days": 400}, "journey"),
        ({"kind": "send", "subject": "No body"}, "journey"),
        ({"kind": "branch", "branch_on": "clicked", "clicked_step_id": "999999"}, "clicked_step_id"),
        ({"kind": "fly"}, "kind"),
        ({"kind": "wait", "wait_days": "2"}, "wait_days"),
        ({"subject": "no kind"}, "kind"),
    ]
    for body, field_name in refusals:
        refused = api.post(f"/journeys/{jid}/steps", json=body)
        assert refused.status_code == 422 and field_name in refused.get_json()["detail"], (body, refused.json)
    assert len(api.get(f"/journeys/{jid}").get_json()["step_details"]) == 3  # nothing half-written
    kind = api.patch(f"/journeys/{jid}/steps/{tag['id']}", json={"kind": "end"})
    assert kind.status_code == 422 and "keeps its kind" in kind.get_json()["detail"]["kind"]
    assert api.patch(f"/journeys/{jid}/steps/nope", json={"tag": "vip"}).status_code == 404
    assert read_api.post(f"/journeys/{jid}/steps", json={"kind": "end"}).status_code == 403

    renamed = api.patch(
        f"/journeys/{jid}", json={"name": "Onboarding", "trigger": "tag_added", "trigger_tag": "vip"}
    )
    assert renamed.status_code == 200 and renamed.get_json()["trigger"] == "tag_added"
    assert api.patch(f"/journeys/{jid}", json={"timezone": "Mars/Olympus"}).status_code == 422
    assert api.post("/journeys", json={"name": "x", "trigger": "api", "list_id": "nope"}).status_code == 422
