"""POST /api/v1/journeys/{id}/enrol: an integration starts a contact on a journey (API trigger only)."""

from sqlalchemy import select

from mailer.core.extensions import db
from mailer.journeys import engine
from mailer.journeys.models import Enrolment, Trigger
from tests.journeys.test_engine import _list, subjects, welcome_series
from tests.support.campaigns import subscriber


def test_enrol_through_the_api_sends_the_first_step(app_ctx, api, read_api, worker, smtp_server):
    news = _list("News")
    lea = subscriber(news, "lea@example.com", "Lea")
    pending = subscriber(news, "max@example.com", "Max", status="pending", consent=False)
    db.session.commit()
    journey = welcome_series(news, trigger=Trigger.API)
    by_list = welcome_series(news)
    path = f"/journeys/{journey.public_id}/enrol"

    ro = read_api.post(path, json={"contact_id": lea.public_id})
    assert ro.status_code == 403, ro.json
    answer = api.post(path, json={"contact_id": lea.public_id})
    assert answer.status_code == 202 and answer.json == {"enrolled": True, "round": 1}
    again = api.post(path, json={"contact_id": lea.public_id})
    assert again.status_code == 200 and again.json["enrolled"] is False

    refused = api.post(path, json={"contact_id": pending.public_id})
    assert refused.status_code == 409 and refused.json["detail"] == {"reason": "unconfirmed"}
    other = api.post(f"/journeys/{by_list.public_id}/enrol", json={"contact_id": lea.public_id})
    assert other.status_code == 409 and "own trigger" in other.json["error"]
    assert api.post("/journeys/nope/enrol", json={"contact_id": lea.public_id}).status_code == 404
    assert api.post(path, json={"contact_id": "nobody"}).status_code == 404
    assert api.post(path, json={"contact": lea.public_id}).status_code == 422
    assert api.post(path, json={"contact_id": 7}).status_code == 422

    assert db.session.execute(select(Enrolment.contact_id)).scalars().all() == [lea.id]
    engine.advance_due()
    worker.drain()
    assert subjects(smtp_server, "lea@example.com") == ["Welcome aboard"]
    listing = api.get("/journeys").json["data"]
    assert {j["id"]: j["trigger"] for j in listing} == {
        journey.public_id: "api",
        by_list.public_id: "list_confirmed",
    }
