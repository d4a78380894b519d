"""The SMTP relays page: owners and admins add named relays; passwords sealed, never shown back, audited;
a campaign chooses its relay and failover relay in the editor."""

import pytest
from sqlalchemy import select, text

from mailer.audit.models import AuditEvent
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.core.extensions import db
from mailer.delivery.relays import Relay
from mailer.feeds import operations as feeds
from mailer.feeds.models import Feed, FeedStatus
from mailer.journeys import operations as journeys
from mailer.journeys.models import Journey, JourneyStatus
from tests.admin.test_campaign_pages import draft, editor_fields
from tests.support.campaigns import make_layout
from tests.support.http import csrf_token, staff_client
from tests.support.signup import page

PASSWORD = "Tr0ub4dor&3-relay"


def _relay_form(client, url="/admin/relays/new", **overrides) -> dict:
    fields = {
        "csrf_token": csrf_token(client.get(url).text),
        "name": "ses-eu",
        "host": "email-smtp.eu-west-1.amazonaws.com",
        "port": "587",
        "tls_mode": "starttls",
        "verify_tls": "y",
        "username": "AKIAEXAMPLE",
        "password": PASSWORD,
        "rate_per_second": "14",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def test_owner_adds_a_relay_whose_password_is_sealed_and_never_shown(app, auth):
    created = auth.post("/admin/relays/new", data=_relay_form(auth))
    assert created.status_code == 302, page(created)
    listing = auth.get("/admin/relays")
    assert "ses-eu" in listing.text and "email-smtp.eu-west-1.amazonaws.com:587" in listing.text
    assert "password set" in listing.text and "14 a second" in listing.text
    edit = auth.get("/admin/relays/ses-eu/edit")
    assert edit.status_code == 200 and "A password is stored" in edit.text
    for response in (listing, edit):
        assert PASSWORD not in response.text

    relay = db.session.execute(select(Relay)).scalar_one()
    assert relay.password() == PASSWORD
    dump = " ".join(str(value) for value in db.session.execute(text("SELECT * FROM relays")).one())
    assert PASSWORD not in dump
    event = db.session.execute(select(AuditEvent)).scalar_one()
    assert (event.action, event.target_id, event.actor.email) == (
        "relay.create",
        "ses-eu",
        "owner@example.com",
    )
    assert PASSWORD not in str(event.details) and event.details["password"] == "set"

    # Changing the host with the password left empty keeps the stored password.
    changed = auth.post(
        "/admin/relays/ses-eu/edit",
        data=_relay_form(auth, "/admin/relays/ses-eu/edit", host="smtp.example.net", password=""),
    )
    assert changed.status_code == 302, page(changed)
    db.session.expire_all()
    relay = db.session.execute(select(Relay)).scalar_one()
    assert relay.host == "smtp.example.net" and relay.password() == PASSWORD


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "My Relay"}, "lower-case letters"),
        ({"name": "default"}, "names the relay of SMTP_URL"),
        ({"port": "0"}, "port between 1 and 65535"),
        ({"port": "abc"}, "Not a valid integer"),
        ({"host": "smtp example"}, "host name or IP address"),
        ({"rate_per_second": "-1"}, "rate between 0"),
        ({"tls_mode": "ssl3"}, "Not a valid choice"),
    ],
)
def test_bad_relay_settings_are_refused_with_a_message(app, auth, overrides, message):
    response = auth.post("/admin/relays/new", data=_relay_form(auth, **overrides))
    assert response.status_code == 400 and message in response.text
    assert PASSWORD not in response.text  # not even the password just typed comes back
    assert db.session.execute(select(Relay)).first() is None


@pytest.mark.parametrize("role", ["marketer", "privacy", "viewer"])
def test_other_roles_cannot_reach_relays(app, role):
    client = staff_client(app, role)
    assert client.get("/admin/relays").status_code == 403
    assert client.get("/admin/relays/new").status_code == 403
    assert "/admin/relays" not in client.get("/admin/").text  # no link to a page they may not use


def test_admins_manage_relays(app):
    admin = staff_client(app, "admin")
    assert admin.get("/admin/relays").status_code == 200
    assert admin.post("/admin/relays/new", data=_relay_form(admin)).status_code == 302


def test_campaign_chooses_its_relay_and_failover(app, auth, demo_form):
    auth.post("/admin/relays/new", data=_relay_form(auth))
    auth.post("/admin/relays/new", data=_relay_form(auth, name="backup", host="smtp.backup.example"))
    relays = {r.name: r.id for r in db.session.execute(select(Relay)).scalars()}
    editor = auth.get("/admin/campaigns/new").text
    assert (
        "The default relay (SMTP_URL)" in editor and "ses-eu (email-smtp.eu-west-1.amazonaws.com)" in editor
    )

    same = auth.post(
        "/admin/campaigns/new",
        data=editor_fields(auth, relay_id=str(relays["backup"]), failover_relay_id=str(relays["backup"])),
    )
    assert same.status_code == 400 and "must be another relay" in same.text
    unknown = auth.post("/admin/campaigns/new", data=editor_fields(auth, relay_id="999999"))
    assert unknown.status_code == 400 and "Not a valid choice" in unknown.text

    campaign = draft(auth, relay_id=str(relays["ses-eu"]), failover_relay_id=str(relays["backup"]))
    assert (campaign.relay.name, campaign.failover_relay.name) == ("ses-eu", "backup")
    edit = auth.get(f"/admin/campaigns/{campaign.public_id}/edit").text
    assert f'<option selected value="{relays["ses-eu"]}">' in edit

    # A relay a scheduled campaign still sends through cannot be removed; once it is a draft again, it can.
    db.session.execute(Campaign.__table__.update().values(status=CampaignStatus.SCHEDULED))
    db.session.commit()
    token = csrf_token(auth.get("/admin/relays").text)
    refused = auth.post("/admin/relays/backup/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "still to send: Spring news" in refused.text
    db.session.execute(Campaign.__table__.update().values(status=CampaignStatus.DRAFT))
    db.session.commit()
    removed = auth.post("/admin/relays/backup/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "Relay “backup” removed" in removed.text
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).failover_relay_id is None
    actions = [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions.count("relay.create") == 2 and actions[-1] == "relay.delete"


def test_a_relay_running_automations_send_through_cannot_be_removed(app, auth, demo_form):
    auth.post("/admin/relays/new", data=_relay_form(auth, name="digests", host="smtp.digests.example"))
    auth.post("/admin/relays/new", data=_relay_form(auth, name="welcome", host="smtp.welcome.example"))
    relays = {r.name: r.id for r in db.session.execute(select(Relay)).scalars()}
    news = demo_form.lists[0]
    feed = feeds.save_feed(
        feeds.FeedInput(
            name="Garden digest",
            url="https://feeds.example/garden.xml",
            list_id=news.id,
            layout_id=make_layout().id,
            relay_id=relays["digests"],
        )
    )
    journey = journeys.create_journey(
        journeys.JourneyInput(
            name="Welcome series",
            trigger="list_confirmed",
            list_id=news.id,
            failover_relay_id=relays["welcome"],
        )
    )
    feed.status, journey.status = FeedStatus.ACTIVE, JourneyStatus.ACTIVE
    db.session.commit()
    token = csrf_token(auth.get("/admin/relays").text)

    for name, automation in (("digests", "Garden digest"), ("welcome", "Welcome series")):
        refused = auth.post(f"/admin/relays/{name}/delete", data={"csrf_token": token}, follow_redirects=True)
        assert f"Relay “{name}” is chosen by automations that are running: {automation}." in refused.text
    db.session.expire_all()
    assert sorted(r.name for r in db.session.execute(select(Relay)).scalars()) == ["digests", "welcome"]

    # Paused, they may lose it: their next mail goes through the default relay.
    db.session.execute(Feed.__table__.update().values(status=FeedStatus.PAUSED))
    db.session.execute(Journey.__table__.update().values(status=JourneyStatus.PAUSED))
    db.session.commit()
    for name in ("digests", "welcome"):
        removed = auth.post(f"/admin/relays/{name}/delete", data={"csrf_token": token}, follow_redirects=True)
        assert f"Relay “{name}” removed" in removed.text
    db.session.expire_all()
    assert db.session.get(Feed, feed.id).relay_id is None
    assert db.session.get(Journey, journey.id).failover_relay_id is None
