"""The webhooks pages: add an endpoint, see its secret and log, test, rotate, re-send, the disabled banner;
owners and admins only, CSRF checked, bad input answered with a message."""

import pytest
from sqlalchemy import select

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.webhooks.models import WebhookEndpoint
from tests.support.http import csrf_token, staff_client
from tests.webhooks.helpers import SETTINGS, deliver, endpoint, processor, verified

pytestmark = pytest.mark.config(**SETTINGS)


def _add(auth, url, events=("subscription.confirmed",), **extra):
    token = csrf_token(auth.get("/admin/webhooks/new").text)
    data = {"csrf_token": token, "url": url, "description": "CRM sync", "events": list(events), "active": "y"}
    data.update(extra)
    return auth.post("/admin/webhooks/new", data=data)


def test_an_owner_adds_an_endpoint_and_sends_it_a_test_event(app_ctx, auth, worker, receiver):
    assert "No endpoints yet" in auth.get("/admin/webhooks").text
    answer = _add(auth, receiver.url("/hook"), events=("subscription.confirmed", "contact.erased"))
    assert answer.status_code == 302
    made = db.session.execute(select(WebhookEndpoint)).scalar_one()
    page = auth.get(answer.headers["Location"]).text
    assert "Endpoint added. Copy its signing secret below." in page
    secret = page.split('id="signing-secret" class="form-control font-monospace mb-2" readonly value="')[1]
    secret = secret.split('"')[0]
    assert secret.startswith("whsec_")
    assert made.events == ["subscription.confirmed", "contact.erased"]

    token = csrf_token(page)
    assert auth.post(f"/admin/webhooks/{made.public_id}/test", data={"csrf_token": token}).status_code == 302
    deliver(worker)
    [request] = receiver.wait_for(1)
    assert verified(request, secret)["type"] == "webhook.test"
    page = auth.get(f"/admin/webhooks/{made.public_id}").text
    assert "webhook.test" in page and "HTTP 200" in page
    listing = auth.get("/admin/webhooks").text
    assert receiver.url("/hook") in listing and "healthy: 1 delivered" in listing


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.2/hook", "private or reserved address"),
        ("ftp://example.com/hook", "must start with https://"),
        ("", "Enter a URL"),
        ("https://user:pw@example.com/", "user name or password"),
    ],
)
def test_a_url_the_outbound_rule_refuses_is_answered_with_the_reason(auth, url, message):
    answer = _add(auth, url)
    assert answer.status_code == 400
    assert message in answer.text


def test_no_event_chosen_is_answered_with_a_message(auth):
    answer = _add(auth, "https://93.184.216.34/hook", events=())
    assert answer.status_code == 400 and "Choose at least one event." in answer.text


def test_an_endpoint_declared_as_processor_says_so(app_ctx, auth):
    crm = processor("Acme CRM")
    answer = _add(auth, "https://93.184.216.34/hook", recipient=crm)
    assert answer.status_code == 302
    assert "Yes: declared as the processor Acme CRM" in auth.get(answer.headers["Location"]).text


def test_rotation_keeps_the_old_secret_signing_for_the_grace_period(app_ctx, auth, receiver):
    made, old = endpoint(receiver, ["subscription.confirmed"])
    page = auth.get(f"/admin/webhooks/{made.public_id}").text
    assert old in page
    auth.post(f"/admin/webhooks/{made.public_id}/rotate", data={"csrf_token": csrf_token(page)})
    page = auth.get(f"/admin/webhooks/{made.public_id}").text
    assert old not in page and "The previous secret also signs until" in page


def test_actions_need_the_csrf_token(app_ctx, auth, receiver):
    made, _ = endpoint(receiver, ["subscription.confirmed"])
    assert auth.post(f"/admin/webhooks/{made.public_id}/rotate").status_code == 400
    assert auth.post(f"/admin/webhooks/{made.public_id}/delete").status_code == 400
    assert db.session.get(WebhookEndpoint, made.id) is not None


def test_an_endpoint_the_app_disabled_shows_a_banner_until_enabled(app_ctx, auth, receiver):
    made, _ = endpoint(receiver, ["subscription.confirmed"])
    made.active, made.disabled_at = False, utcnow()
    made.disabled_reason = "Disabled automatically after 20 or more failed attempts in a row."
    db.session.commit()
    listing = auth.get("/admin/webhooks").text
    assert "was disabled automatically" in listing and 'role="alert"' in listing
    page = auth.get(f"/admin/webhooks/{made.public_id}").text
    auth.post(f"/admin/webhooks/{made.public_id}/toggle", data={"csrf_token": csrf_token(page)})
    assert "was disabled automatically" not in auth.get("/admin/webhooks").text
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, made.id).active is True


def test_marketers_and_viewers_cannot_see_webhooks(app, receiver):
    with app.app_context():
        public_id = endpoint(receiver, ["subscription.confirmed"])[0].public_id
    for role in ("marketer", "viewer", "privacy"):
        client = staff_client(app, role)
        assert client.get("/admin/webhooks").status_code == 403
        assert client.get(f"/admin/webhooks/{public_id}").status_code == 403


def test_an_unknown_endpoint_or_delivery_is_404(auth):
    assert auth.get("/admin/webhooks/nope").status_code == 404
    assert auth.get("/admin/webhooks/nope/deliveries/1").status_code == 404
