"""Every admin route, walked as every role: the one
permission hook answers 403 exactly where the map says so."""

from datetime import datetime

import pytest
from sqlalchemy import select

from mailer.admin.permissions import allowed
from mailer.campaigns.models import Layout
from mailer.contacts.models.suppression import Suppression, SuppressionReason
from mailer.contacts.operations import email_hash
from mailer.contacts.suppression import suppress
from mailer.contacts.tags import ensure_tag
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.privacy import settings as privacy_settings
from mailer.privacy.requests import open_request
from mailer.staff.accounts import create_staff
from mailer.staff.models.accounts import ROLES, StaffInvite
from tests.support.campaigns import newsletter
from tests.support.http import csrf_token, login
from tests.support.privacy import define_fields, fill_fields

PASSWORD = "correct horse battery"
# Pages of this module and the pages every role reads: each must render (200) for every role allowed to see
# it.
OWN_PAGES = (
    "admin.privacy",
    "admin.settings",
    "admin.audit",
    "admin.staff",
    "admin.retention",
    "admin.contact",
    "admin.dashboard",
    "admin.lists",
    "admin.list_show",
)
# Hand-written expectations for the rules that matter most (the walk below checks every route against the
# map).
EXPECTED = {
    ("admin.privacy_requests", "GET"): {"owner", "admin", "privacy"},
    ("admin.privacy_request_show", "GET"): {"owner", "admin", "privacy"},
    ("admin.privacy_request_fulfil", "POST"): {"owner", "privacy"},
    ("admin.privacy_request_new", "POST"): {"owner", "privacy"},
    ("admin.privacy_request_export", "GET"): {"owner", "privacy"},
    ("admin.privacy_contact_restrict", "POST"): {"owner", "privacy"},
    ("admin.privacy_contact_unrestrict", "POST"): {"owner", "privacy"},
    ("admin.privacy_contact_lift_objection", "POST"): {"owner", "privacy"},
    ("admin.privacy_contact_erase", "POST"): {"owner", "privacy"},
    ("admin.privacy_contact_rectify", "POST"): {"owner", "privacy"},
    ("admin.privacy_contact_reveal", "POST"): {"owner", "admin", "privacy"},
    ("admin.audit_log", "GET"): {"owner", "admin", "privacy"},
    ("admin.audit_export", "GET"): {"owner", "admin", "privacy"},
    ("admin.settings_privacy", "POST"): {"owner", "admin", "privacy"},
    ("admin.retention_run", "POST"): {"owner", "privacy"},
    ("admin.staff", "GET"): {"owner", "admin"},
    ("admin.staff_role", "POST"): {"owner", "admin"},
    ("admin.staff_invite_resend", "POST"): {"owner", "admin"},
    ("admin.staff_invite_revoke", "POST"): {"owner", "admin"},
    ("admin.invite_accept", "GET"): set(ROLES),  # open: the signed single-use link is the proof
    ("admin.invite_accept", "POST"): set(ROLES),
    ("admin.api_key_new", "POST"): {"owner", "admin"},
    ("admin.contacts", "GET"): set(ROLES),
    ("admin.contact_show", "GET"): set(ROLES),
    ("admin.list_new", "POST"): {"owner", "admin", "marketer"},
    ("admin.list_new", "GET"): {"owner", "admin", "marketer"},
    ("admin.logout", "POST"): set(ROLES),
    ("admin.outbox", "GET"): {"owner", "admin"},
    ("admin.outbox_show", "GET"): {"owner", "admin"},
    ("admin.outbox_html", "GET"): {"owner", "admin"},
    ("admin.suppressions", "GET"): {"owner", "admin"},
    ("admin.suppression_remove", "POST"): {"owner", "admin"},
    ("admin.dkim_key_new", "POST"): {"owner", "admin"},
    ("admin.dkim_key_switch", "POST"): {"owner", "admin"},
}


def test_the_map_says_what_the_issue_asks():
    for (endpoint, method), roles in EXPECTED.items():
        assert {r for r in ROLES if allowed(r, endpoint, method)} == roles, (endpoint, method)
    # Default deny: a page nobody put in the map is closed to every role, the owner included.
    for endpoint in ("admin.contacts_export", "admin.some_future_page"):
        for method in ("GET", "POST"):
            assert not any(allowed(role, endpoint, method) for role in ROLES), (endpoint, method)
    assert not allowed("owner", "admin.dashboard", "DELETE")  # only the methods listed


def _world(app):
    """One of everything, so each route has a real object to work on."""
    campaign, (contact, target) = newsletter(2)
    fields = define_fields()
    fill_fields(target, fields, {"health": "Asthma"})
    request = open_request("access", "email", contact=contact)
    recipient = privacy_settings.save_recipient(privacy_settings.RecipientInput(name="Relay Ltd"))
    other = create_staff("other@example.com", PASSWORD, "viewer")
    invite = StaffInvite(
        email="invited@example.com", role="viewer", nonce="n", expires_at=datetime(2999, 1, 1)
    )
    db.session.add(invite)
    layout = db.session.execute(select(Layout)).scalars().first()
    outbox = db.session.execute(select(OutboxMessage)).scalars().first()
    from mailer.demo import seed_demo

    form = seed_demo()
    db.session.commit()
    by_prefix = [
        ("admin.privacy_contact", target.public_id),
        ("admin.privacy_request", request.public_id),
        ("admin.analytics_list", campaign.lists[0].public_id),
        ("admin.list", campaign.lists[0].public_id),
        ("admin.analytics_campaign", campaign.public_id),
        ("admin.campaign", campaign.public_id),
        ("admin.contact", contact.public_id),
        ("admin.form", form.public_id),
        ("admin.layout", layout.public_id if layout else "nope"),
        ("admin.outbox", outbox.public_id if outbox else "nope"),
        ("admin.settings_recipient", recipient.public_id),
        ("admin.staff_invite", invite.public_id),
    ]
    return {
        "by_prefix": by_prefix,
        "user_id": other.id,
        "key": "postcode",
        "field_key": "health",
        "prefix": "nope",
        "tag_id": ensure_tag("walked").id,
        "suppression_id": _suppressed_id(),
        "key_id": 999_999,  # no such DKIM key: answered by the map, then 404
        "version_id": 999_999,  # no such draft version: the route must still answer by the map, never 500
        "step_id": 999_999,  # no such journey step: likewise
        "delivery_id": 999_999,  # no such webhook delivery: likewise
        "position": 0,  # an A/B test variant's position (A)
    }


def _suppressed_id() -> int:
    """A suppression list entry for the removal route to act on."""
    suppress(email_hash("walked@example.net"), SuppressionReason.MANUAL)
    db.session.commit()
    query = select(Suppression.id).where(Suppression.email_hash == email_hash("walked@example.net"))
    return db.session.execute(query).scalar_one()


def _url(rule, world) -> str:
    values = {}
    for name in rule.arguments:
        if name == "public_id":
            values[name] = next((v for p, v in world["by_prefix"] if rule.endpoint.startswith(p)), "nope")
        else:
            values[name] = world.get(name, "nope")
    return rule.build(values, append_unknown=False)[1]


LOGGING_OUT = ("admin.account_sessions_end", "admin.logout")  # walked last: they end the walker's session


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_route_as_each_role(app, client, role):
    with app.app_context():
        world = _world(app)
        create_staff(f"{role}-walker@example.com", PASSWORD, role)
        db.session.commit()
    login(client, f"{role}-walker@example.com", PASSWORD)
    token = csrf_token(client.get("/admin/").text)
    rules = sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if r.endpoint.startswith("admin.") and r.endpoint != "admin.static"
        ),
        key=lambda r: (r.endpoint in LOGGING_OUT, r.endpoint),
    )
    seen = []
    for method in ("GET", "POST"):
        for rule in rules:
            if method not in rule.methods or rule.endpoint in ("admin.login", "admin.setup"):
                continue
            if method == "POST" and rule.endpoint == "admin.logout":
                continue
            url = _url(rule, world)
            response = client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token})
            expected_ok = allowed(role, rule.endpoint, method)
            seen.append((rule.endpoint, method))
            if expected_ok:
                assert response.status_code != 403, f"{role} refused {method} {url}"
                if method == "GET" and rule.endpoint.startswith(OWN_PAGES):
                    assert response.status_code == 200, f"{role} GET {url} → {response.status_code}"
            else:
                assert response.status_code == 403, f"{role} allowed {method} {url}: {response.status_code}"
            assert response.status_code < 500, f"{role} {method} {url} → {response.status_code}"
    assert len(seen) > 60
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
