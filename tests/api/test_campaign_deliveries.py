"""GET /campaigns/{id} gives every delivery state with its count and most common reasons."""
from tests.support.deliveries import UNCERTAIN, seed


def test_campaign_has_counts_and_reasons_per_delivery_state(api):
    campaign, _ = seed()
    response = api.get(f"/campaigns/{campaign.public_id}")
    assert response.status_code == 200
    body = response.get_json()
    deliveries = body["deliveries"]
    assert {state: deliveries[state]["count"] for state in deliveries} == {
        "queued": 6, "sending": 2, "sent": 5, "skipped": 3, "failed": 3, "bounced": 1, "uncertain": 4}
    assert deliveries["queued"]["reasons"] == [
        {"reason": "will retry at … UTC: 451 4.3.0 Mailbox temporarily unavailable", "count": 3}]
    assert deliveries["failed"]["reasons"][0] == {
        "reason": "550 5.1.1 <address>: Recipient address rejected: User unknown", "count": 2}
    assert deliveries["uncertain"]["reasons"] == [{"reason": UNCERTAIN, "count": 4}]
    assert "example.net" not in response.get_data(as_text=True)
    assert body["progress"]["uncertain"] == 4  # the existing progress numbers stay


def test_campaign_list_stays_light(read_api):
    campaign, _ = seed()
    item = read_api.get("/campaigns").get_json()["data"][0]
    assert item["id"] == campaign.public_id and "deliveries" not in item and "progress" not in item
