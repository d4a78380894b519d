"""Journeys through the API, the rest of the builder (issue 15, API parity): the relay a journey's emails go
through, a test run of every email to one address (real worker, real SMTP), and a contact's path through a
journey as the contact's admin page shows it; the builder's refusals as 4xx with its message."""

from sqlalchemy import select

from mailer.core.extensions import db
from mailer.delivery.relays import RelayFields, TlsMode, save_relay
from mailer.journeys import engine
from mailer.journeys.models import Journey
from tests.journeys.test_engine import SECOND, WELCOME, _list, subjects, tick, time_passes
from tests.support.campaigns import make_layout, subscriber
from tests.support.smtp import SmtpCapture


def _series(api, news, layout, **extra) -> str:
    body = {"name": "Welcome", "trigger": "api", "list_id": news.public_id, "layout_id": layout.public_id}
    made = api.post("/journeys", json={**body, **extra})
    assert made.status_code == 201, made.get_json()
    jid = made.get_json()["id"]
    for step in (
        {"kind": "send", "subject": "Welcome aboard", "body": WELCOME},
        {"kind": "wait", "wait_mode": "duration", "wait_days": 2},
        {"kind": "send", "subject": "Your second day", "body": SECOND},
    ):
        assert api.post(f"/journeys/{jid}/steps", json=step).status_code == 201
    return jid


def test_a_journeys_relay_is_chosen_by_name_and_its_emails_go_through_it(app_ctx, api, worker, smtp_server):
    news = _list("News")
    lea = subscriber(news, "lea@example.com", "Lea")
    layout = make_layout()
    relay_server = SmtpCapture()
    relay_server.start()
    try:
        save_relay(
            None, RelayFields(name="bulk", host="127.0.0.1", port=relay_server.port, tls_mode=TlsMode.NONE)
        )
        save_relay(None, RelayFields(name="spare", host="127.0.0.1", port=1, tls_mode=TlsMode.NONE))
        db.session.commit()
        jid = _series(api, news, layout, relay="bulk")
        shown = api.get(f"/journeys/{jid}").get_json()
        assert (shown["relay"], shown["failover_relay"]) == ("bulk", None)
        unknown = api.patch(f"/journeys/{jid}", json={"relay": "nope"})
        assert unknown.status_code == 422 and unknown.get_json()["detail"] == {"relay": "unknown: nope"}
        same = api.patch(f"/journeys/{jid}", json={"failover_relay": "bulk"})
        assert same.status_code == 422
        assert "failover relay must be another relay" in same.get_json()["error"]
        assert (
            api.patch(f"/journeys/{jid}", json={"failover_relay": "spare"}).get_json()["failover_relay"]
            == "spare"
        )

        assert api.post(f"/journeys/{jid}/activate").status_code == 200
        assert api.post(f"/journeys/{jid}/enrol", json={"contact_id": lea.public_id}).status_code == 202
        engine.advance_due()
        worker.drain()
        assert subjects(relay_server, "lea@example.com") == ["Welcome aboard"]
        assert smtp_server.to("lea@example.com") == []  # not through the default relay
        assert (
            api.patch(f"/journeys/{jid}", json={"relay": None, "failover_relay": None}).get_json()["relay"]
            is None
        )
    finally:
        relay_server.stop()


def test_a_test_run_sends_each_email_once_to_the_address_and_enrols_nobody(app_ctx, api, worker, smtp_server):
    news = _list("News")
    layout = make_layout()
    db.session.commit()
    jid = _series(api, news, layout)
    tested = api.post(f"/journeys/{jid}/test", json={"address": "qa@example.org"})
    assert tested.status_code == 202 and tested.get_json() == {"queued": 2}
    worker.drain()
    received = smtp_server.to("qa@example.org")
    assert sorted(m.message["Subject"] for m in received) == [
        "[TEST] Welcome aboard",
        "[TEST] Your second day",
    ]
    assert all(b"https://example.org/" in m.data for m in received)  # each step's own content
    journey = api.get(f"/journeys/{jid}").get_json()
    assert [s["stats"]["entered"] for s in journey["step_details"]] == [0, 0, 0]

    bad = api.post(f"/journeys/{jid}/test", json={"address": "not an address"})
    assert bad.status_code == 422 and "not an address" in bad.get_json()["error"]
    empty = api.post(
        "/journeys", json={"name": "Empty", "trigger": "api", "list_id": news.public_id}
    ).get_json()
    nothing = api.post(f"/journeys/{empty['id']}/test", json={"address": "qa@example.org"})
    assert nothing.status_code == 409 and nothing.get_json()["error"] == "This journey has no email step yet."
    assert api.post("/journeys/nope/test", json={"address": "qa@example.org"}).status_code == 404
    assert api.post(f"/journeys/{jid}/test", json={}).status_code == 422


def test_read_only_keys_may_read_a_path_but_not_run_a_test(app_ctx, api, read_api):
    news = _list("News")
    lea = subscriber(news, "lea@example.com", "Lea")
    layout = make_layout()
    db.session.commit()
    jid = _series(api, news, layout)
    assert read_api.post(f"/journeys/{jid}/test", json={"address": "qa@example.org"}).status_code == 403
    assert read_api.get(f"/contacts/{lea.public_id}/journeys").get_json() == {"data": []}
    assert read_api.get("/contacts/nobody/journeys").status_code == 404


def test_a_contacts_path_lists_the_steps_taken(app_ctx, api, worker, smtp_server):
    news = _list("News")
    lea = subscriber(news, "lea@example.com", "Lea")
    layout = make_layout()
    db.session.commit()
    jid = _series(api, news, layout)
    steps = [s["id"] for s in api.get(f"/journeys/{jid}").get_json()["step_details"]]
    assert api.post(f"/journeys/{jid}/activate").status_code == 200
    assert api.post(f"/journeys/{jid}/enrol", json={"contact_id": lea.public_id}).status_code == 202
    engine.advance_due()
    worker.drain()

    (path,) = api.get(f"/contacts/{lea.public_id}/journeys").get_json()["data"]
    assert (path["journey_id"], path["journey_name"], path["round"], path["state"]) == (
        jid,
        "Welcome",
        1,
        "active",
    )
    assert path["step_id"] == steps[2] and path["due_at"] and path["finished_at"] is None
    assert [(e["kind"], e["step_id"]) for e in path["events"]][:3] == [
        ("entered", steps[0]),
        ("sent", steps[0]),
        ("entered", steps[1]),
    ]

    time_passes(db.session.execute(select(Journey).where(Journey.public_id == jid)).scalar_one())
    tick(worker)
    tick(worker)
    assert subjects(smtp_server, "lea@example.com") == ["Welcome aboard", "Your second day"]
    (path,) = api.get(f"/contacts/{lea.public_id}/journeys", query_string={"journey_id": jid}).get_json()[
        "data"
    ]
    kinds = [(e["kind"], e["step_position"]) for e in path["events"]]
    assert ("sent", 0) in kinds and ("sent", 2) in kinds and ("entered", 1) in kinds
    assert path["state"] == "done" and path["finished_at"] and path["due_at"] is None
    assert api.get(
        f"/contacts/{lea.public_id}/journeys", query_string={"journey_id": "other"}
    ).get_json() == {"data": []}
