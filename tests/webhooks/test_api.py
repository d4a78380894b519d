"""/api/v1/webhooks: create (the secret shown once), read, change, rotate, test and delete endpoints; bad
input is a 422 naming the field; a read-only key reads but never sees a secret or changes anything."""

import pytest

from mailer.core.extensions import db
from mailer.staff.api_keys import create_key
from mailer.webhooks.models import WebhookEndpoint
from tests.api.helpers import ApiClient
from tests.webhooks.helpers import SETTINGS, deliver, processor, verified

pytestmark = pytest.mark.config(**SETTINGS)


def _client(client, staff_user, role: str) -> ApiClient:
    _, secret = create_key(f"{role} key", role, staff_user)
    db.session.commit()
    return ApiClient(client, secret)


@pytest.fixture
def api(app_ctx, client, staff_user) -> ApiClient:
    return _client(client, staff_user, "read_write")


def test_an_integration_creates_an_endpoint_and_receives_a_signed_test_event(api, worker, receiver):
    created = api.post("/webhooks", json={"url": receiver.url("/in"), "events": ["contact.erased"]})
    assert created.status_code == 201
    body = created.get_json()
    secret = body.pop("secret")
    assert secret.startswith("whsec_")
    assert body["events"] == ["contact.erased"] and body["active"] is True and body["processor_id"] is None

    shown = api.get(f"/webhooks/{body['id']}").get_json()
    assert "secret" not in shown and shown["url"] == receiver.url("/in")
    assert [e["id"] for e in api.get("/webhooks").get_json()["data"]] == [body["id"]]

    assert api.post(f"/webhooks/{body['id']}/test").status_code == 202
    deliver(worker)
    [request] = receiver.wait_for(1)
    assert verified(request, secret)["type"] == "webhook.test"

    rotated = api.post(f"/webhooks/{body['id']}/rotate").get_json()
    assert rotated["secret"] != secret and rotated["secret"].startswith("whsec_")


def test_an_endpoint_is_changed_field_by_field(app_ctx, api, receiver):
    endpoint_id = api.post(
        "/webhooks", json={"url": receiver.url("/a"), "events": ["campaign.started"]}
    ).get_json()["id"]
    crm = processor("Acme CRM")
    changed = api.patch(
        f"/webhooks/{endpoint_id}",
        json={"events": ["campaign.started", "campaign.finished"], "processor_id": crm, "active": False},
    )
    assert changed.status_code == 200
    body = changed.get_json()
    assert (body["events"], body["processor_id"], body["active"], body["url"]) == (
        ["campaign.started", "campaign.finished"],
        crm,
        False,
        receiver.url("/a"),
    )
    assert (
        api.patch(f"/webhooks/{endpoint_id}", json={"processor_id": None}).get_json()["processor_id"] is None
    )
    assert api.delete(f"/webhooks/{endpoint_id}").status_code == 204
    assert api.get(f"/webhooks/{endpoint_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"url": "http://169.254.169.254/latest", "events": ["contact.erased"]},
            "url",
            "private or reserved",
        ),
        ({"url": "https://93.184.216.34/x", "events": []}, "events", "Choose at least one event."),
        ({"url": "https://93.184.216.34/x", "events": ["contact.exploded"]}, "events", "Unknown events"),
        (
            {"url": "https://93.184.216.34/x", "events": ["contact.erased"], "processor_id": "nope"},
            "processor_id",
            "processor",
        ),
        (
            {"url": "https://93.184.216.34/x", "events": ["contact.erased"], "secret": "x"},
            "secret",
            "unknown field",
        ),
        ({"events": ["contact.erased"]}, "url", "required"),
        ({"url": 5, "events": ["contact.erased"]}, "url", "must be a string"),
        (
            {"url": "https://93.184.216.34/x", "events": ["contact.erased"], "active": "yes"},
            "active",
            "true or false",
        ),
    ],
)
def test_bad_input_is_a_422_that_names_the_field(api, body, field, message):
    answer = api.post("/webhooks", json=body)
    assert answer.status_code == 422
    assert message in answer.get_json()["detail"][field]
    assert db.session.query(WebhookEndpoint).count() == 0


def test_a_read_only_key_reads_but_changes_nothing(app_ctx, client, staff_user, api, receiver):
    endpoint_id = api.post(
        "/webhooks", json={"url": receiver.url("/a"), "events": ["contact.erased"]}
    ).get_json()["id"]
    reader = _client(client, staff_user, "read_only")
    assert "secret" not in reader.get(f"/webhooks/{endpoint_id}").get_json()
    assert reader.post(f"/webhooks/{endpoint_id}/rotate").status_code == 403
    assert reader.delete(f"/webhooks/{endpoint_id}").status_code == 403
    assert (
        reader.post("/webhooks", json={"url": receiver.url("/b"), "events": ["contact.erased"]}).status_code
        == 403
    )


def test_an_unknown_endpoint_is_404(api):
    assert api.get("/webhooks/nope").status_code == 404
    assert api.post("/webhooks/nope/test").status_code == 404
