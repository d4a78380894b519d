"""GET /campaigns/{id} gives every delivery state with its count and most common reasons; uncertain deliveries
are listed and, with a read-and-write key, resent (audited)."""

from datetime import datetime

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from tests.support.deliveries import UNCERTAIN, seed


def test_campaign_has_counts_and_reasons_per_delivery_state(api):
    campaign, _ = seed()
    response = api.get(f"/campaigns/{campaign.public_id}")
    assert response.status_code == 200
    body = response.get_json()
    deliveries = body["deliveries"]
    assert {state: deliveries[state]["count"] for state in deliveries} == {
        "queued": 6,
        "sending": 2,
        "sent": 5,
        "skipped": 3,
        "failed": 3,
        "bounced": 1,
        "uncertain": 4,
    }
    assert deliveries["queued"]["reasons"] == [
        {"reason": "will retry at … UTC: 451 4.3.0 Mailbox temporarily unavailable", "count": 3}
    ]
    assert deliveries["failed"]["reasons"][0] == {
        "reason": "550 5.1.1 <address>: Recipient address rejected: User unknown",
        "count": 2,
    }
    assert deliveries["uncertain"]["reasons"] == [{"reason": UNCERTAIN, "count": 4}]
    assert "example.net" not in response.get_data(as_text=True)
    assert body["progress"]["uncertain"] == 4  # the existing progress numbers stay


def test_campaign_list_stays_light(read_api):
    campaign, _ = seed()
    item = read_api.get("/campaigns").get_json()["data"][0]
    assert item["id"] == campaign.public_id and "deliveries" not in item and "progress" not in item


def _uncertain(api, campaign, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = api.get(f"/campaigns/{campaign.public_id}/uncertain" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_uncertain_deliveries_are_listed_by_cursor_without_addresses(read_api):
    campaign, contacts = seed()
    first = _uncertain(read_api, campaign, limit=3)
    assert len(first["data"]) == 3 and first["next_cursor"] == first["data"][-1]["id"]
    rest = _uncertain(read_api, campaign, limit=3, after=first["next_cursor"])
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None
    item = first["data"][0]
    assert (
        set(item) == {"id", "contact_id", "reason", "attempts", "handed_at"} and item["reason"] == UNCERTAIN
    )
    assert item["contact_id"] in {c.public_id for c in contacts} and "@" not in str(first)
    bad = read_api.get(f"/campaigns/{campaign.public_id}/uncertain?after=abc")
    assert bad.status_code == 422 and "after" in bad.get_json()["detail"]


def test_resend_needs_a_read_write_key(read_api):
    campaign, _ = seed()
    response = read_api.post(f"/campaigns/{campaign.public_id}/uncertain/resend", json={"all": True})
    assert response.status_code == 403
    assert len(_uncertain(read_api, campaign)["data"]) == 4


def test_resend_chosen_then_all_audited_with_the_key(api, write_key):
    campaign, _ = seed()
    ids = [item["id"] for item in _uncertain(api, campaign)["data"]]
    one = api.post(f"/campaigns/{campaign.public_id}/uncertain/resend", json={"deliveries": ids[:1]})
    assert one.status_code == 200 and one.get_json() == {"resent": 1, "status": "sending"}
    assert [item["id"] for item in _uncertain(api, campaign)["data"]] == ids[1:]
    rest = api.post(f"/campaigns/{campaign.public_id}/uncertain/resend", json={"all": True})
    assert rest.get_json()["resent"] == 3 and _uncertain(api, campaign)["data"] == []
    again = api.post(f"/campaigns/{campaign.public_id}/uncertain/resend", json={"deliveries": ids[:1]})
    assert again.status_code == 200 and again.get_json()["resent"] == 0
    events = (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "campaign.resend_uncertain").order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    prefix = write_key.split("_")[1]
    assert [e.details for e in events] == [
        {"count": 1, "chosen": 1, "via": "api", "api_key": prefix},
        {"count": 3, "chosen": "all", "via": "api", "api_key": prefix},
    ]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "body"),
        ({"all": True, "deliveries": ["1"]}, "body"),
        ({"all": False}, "all"),
        ({"deliveries": []}, "deliveries"),
        ({"deliveries": ["x1"]}, "deliveries"),
        ({"deliveries": [1]}, "deliveries"),
        ({"every": True}, "every"),
    ],
)
def test_resend_refuses_unclear_requests(api, body, field):
    campaign, _ = seed()
    response = api.post(f"/campaigns/{campaign.public_id}/uncertain/resend", json=body)
    assert response.status_code == 422 and field in response.get_json()["detail"], response.get_json()
    assert len(_uncertain(api, campaign)["data"]) == 4


def test_resend_of_an_unknown_or_cancelled_campaign(api):
    campaign, _ = seed()
    assert api.post("/campaigns/nope/uncertain/resend", json={"all": True}).status_code == 404
    db.session.get(Campaign, campaign.id).status = "cancelled"
    db.session.commit()
    response = api.post(f"/campaigns/{campaign.public_id}/uncertain/resend", json={"all": True})
    assert response.status_code == 409 and "cancelled" in response.get_json()["error"]


def test_a_campaign_waiting_for_the_relay_says_so(read_api):
    campaign, _ = seed()
    row = db.session.get(Campaign, campaign.id)
    row.waiting_reason = "Waiting for the relay: connection refused. Next try at 14:05:00 UTC."
    row.waiting_until = datetime(2030, 1, 1, 14, 5)
    db.session.commit()
    body = read_api.get(f"/campaigns/{campaign.public_id}").get_json()
    assert body["waiting_reason"] == row.waiting_reason and body["waiting_until"] == "2030-01-01T14:05:00Z"
    assert body["progress"]["sent"] == 5  # progress still given while waiting
    listed = read_api.get("/campaigns").get_json()["data"][0]
    assert listed["waiting_reason"].startswith("Waiting for the relay")
