"""The privacy officer's pages: the register, a request by phone from logging to Art. 19 notifications,
reveals, masking in every staff output, restriction shown everywhere, staff accounts, settings, the audit
log."""

import io
import json
import re
import zipfile

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.privacy import settings as privacy_settings
from mailer.privacy.models.requests import PrivacyRequest
from mailer.staff.accounts import create_staff
from mailer.staff.models.accounts import StaffUser
from tests.support.campaigns import newsletter
from tests.support.http import csrf_token, login
from tests.support.privacy import define_fields, fill_fields, links_in_mail
from tests.support.workers import drain

PASSWORD = "correct horse battery"


def _as(client, role: str):
    create_staff(f"{role}@example.com", PASSWORD, role)
    db.session.commit()
    login(client, f"{role}@example.com", PASSWORD)
    return csrf_token(client.get("/admin/").text)


def test_a_phone_request_from_logging_to_erasure_and_notifications(app, app_ctx, client, worker):
    _, (person,) = newsletter(1)
    privacy_settings.save_recipient(
        privacy_settings.RecipientInput(name="Relay Ltd", contact="dpa@relay.example")
    )
    privacy_settings.save_recipient(privacy_settings.RecipientInput(name="Old CRM", notify_changes=False))
    token = _as(client, "privacy")
    response = client.post(
        "/admin/privacy/new",
        data={
            "csrf_token": token,
            "email": person.email.upper(),
            "type": "erasure",
            "channel": "phone",
            "received_on": "",
            "note": "Called the hotline",
        },
    )
    assert response.status_code == 302
    req = db.session.execute(select(PrivacyRequest)).scalar_one()
    assert (req.contact_id, req.channel, req.status) == (person.id, "phone", "awaiting_verification")
    page = client.get(f"/admin/privacy/{req.public_id}")
    assert "Send the verification link" in page.text and "Called the hotline" in page.text

    # Acting before the person is verified is refused.
    client.post(f"/admin/privacy/{req.public_id}/fulfil", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Contact, person.id).status == "active"

    client.post(f"/admin/privacy/{req.public_id}/verify", data={"csrf_token": token})
    worker.drain()
    [verify] = links_in_mail(app, person.email, "/privacy/verify/")
    done = client.post(verify)
    assert done.status_code == 200 and "confirmed" in done.text  # staff-logged requests wait for staff
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, req.id).status == "open"

    response = client.post(
        f"/admin/privacy/{req.public_id}/fulfil", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Erased by anonymisation" in response.text
    db.session.expire_all()
    assert db.session.get(Contact, person.id).status == "erased"
    req = db.session.get(PrivacyRequest, req.id)
    assert [n["name"] for n in req.notifications] == ["Relay Ltd"]  # only recipients to be told (Art. 19)
    client.post(
        f"/admin/privacy/{req.public_id}/notify",
        data={"csrf_token": token, "recipient": req.notifications[0]["recipient"]},
    )
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, req.id).notifications[0]["status"] == "notified"
    actions = [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions == [
        "request.create",
        "request.update",
        "contact.erase",
        "request.update",
        "request.notify",
    ]


def test_extension_form_and_refusal(app_ctx, client):
    _, (person,) = newsletter(1)
    token = _as(client, "privacy")
    client.post(
        "/admin/privacy/new",
        data={
            "csrf_token": token,
            "email": person.email,
            "type": "access",
            "channel": "letter",
            "received_on": "2099-01-01",
        },
    )
    assert db.session.execute(select(PrivacyRequest)).first() is None  # a date in the future is refused
    client.post(
        "/admin/privacy/new",
        data={"csrf_token": token, "email": person.email, "type": "access", "channel": "letter"},
    )
    req = db.session.execute(select(PrivacyRequest)).scalar_one()
    today = req.received_at.date().isoformat()
    bad = client.post(
        f"/admin/privacy/{req.public_id}/extend",
        data={"csrf_token": token, "reason": "", "told_on": today},
        follow_redirects=True,
    )
    assert "Give a reason" in bad.text
    ok = client.post(
        f"/admin/privacy/{req.public_id}/extend",
        data={"csrf_token": token, "told_on": today, "reason": "Archive in storage"},
        follow_redirects=True,
    )
    assert "Deadline extended" in ok.text
    refused = client.post(
        f"/admin/privacy/{req.public_id}/refuse",
        data={"csrf_token": token, "reason": ""},
        follow_redirects=True,
    )
    assert "Give the reason" in refused.text
    client.post(
        f"/admin/privacy/{req.public_id}/refuse", data={"csrf_token": token, "reason": "Manifestly unfounded"}
    )
    db.session.expire_all()
    req = db.session.get(PrivacyRequest, req.id)
    assert (req.status, req.outcome) == ("refused", "Manifestly unfounded") and req.extended_until is not None


def test_sensitive_values_are_masked_in_every_staff_output_and_revealed_only_with_a_reason(
    app, app_ctx, client, runner, tmp_path
):
    _, (person,) = newsletter(1)
    fields = define_fields()
    fill_fields(person, fields, {"health": "Coeliac disease", "national_id": "DE-4417-2290-1133"})
    req_id = None
    token = _as(client, "privacy")
    show = client.get(f"/admin/contacts/{person.public_id}")
    assert "•••• 1133" in show.text and "4417-2290" not in show.text and "Coeliac" not in show.text
    listing = client.get(f"/admin/contacts?q={person.email}")
    assert "Coeliac" not in listing.text and "4417-2290" not in listing.text
    # The staff export of an access request: masked, and audited.
    client.post(
        "/admin/privacy/new",
        data={"csrf_token": token, "email": person.email, "type": "access", "channel": "email"},
    )
    req_id = db.session.execute(select(PrivacyRequest.public_id)).scalar_one()
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/admin/privacy/{req_id}/export.zip").data))
    everything = "".join(archive.read(name).decode() for name in archive.namelist())
    assert "•••• 1133" in everything and "4417-2290" not in everything and "Coeliac" not in everything
    # The CLI export is a staff export too.
    out = tmp_path / "person.zip"
    assert runner.invoke(args=["privacy", "export", person.email, "--out", str(out)]).exit_code == 0
    assert b"4417-2290" not in b"".join(zipfile.ZipFile(out).read(n) for n in zipfile.ZipFile(out).namelist())

    no_reason = client.post(
        f"/admin/privacy/contacts/{person.public_id}/reveal/health",
        data={"csrf_token": token, "reason": ""},
        follow_redirects=True,
    )
    assert "Coeliac" not in no_reason.text
    shown = client.post(
        f"/admin/privacy/contacts/{person.public_id}/reveal/health",
        data={"csrf_token": token, "reason": "Allergy check for the event"},
    )
    assert shown.status_code == 200 and "Coeliac disease" in shown.text
    events = [
        (e.action, e.details)
        for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    ]
    assert ("contact.view_sensitive", {"field": "health", "reason": "Allergy check for the event"}) in events
    assert [a for a, _ in events].count("contact.export") == 2  # the admin download and the CLI export


def test_marketers_cannot_reveal_or_export_and_see_no_privacy_actions(app_ctx, client):
    _, (person,) = newsletter(1)
    fields = define_fields()
    fill_fields(person, fields, {"health": "Coeliac disease"})
    token = _as(client, "marketer")
    page = client.get(f"/admin/contacts/{person.public_id}")
    assert page.status_code == 200 and "Reveal" not in page.text and "Erase this contact" not in page.text
    assert 'href="/admin/privacy"' not in page.text  # no nav entry either
    assert (
        client.post(
            f"/admin/privacy/contacts/{person.public_id}/reveal/health",
            data={"csrf_token": token, "reason": "Curious about it"},
        ).status_code
        == 403
    )
    assert client.get("/admin/audit.csv").status_code == 403
    assert not db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "contact.view_sensitive")
    ).all()


def test_a_restricted_contact_is_flagged_in_every_view_and_frozen_for_other_roles(app_ctx, client):
    _, (person,) = newsletter(1)
    token = _as(client, "privacy")
    client.post(f"/admin/privacy/contacts/{person.public_id}/restrict", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Contact, person.id).status == "restricted"
    for url in (f"/admin/contacts/{person.public_id}", f"/admin/contacts/{person.public_id}/evidence"):
        assert "Processing is restricted" in client.get(url).text, url
    assert ">restricted<" in client.get("/admin/contacts").text
    register = db.session.execute(select(PrivacyRequest)).scalar_one()
    assert (register.type, register.channel, register.status) == ("restriction", "admin", "completed")
    client.post("/admin/logout", data={"csrf_token": token})
    admin_token = _as(client, "admin")
    assert (
        client.post(
            f"/admin/privacy/contacts/{person.public_id}/unrestrict", data={"csrf_token": admin_token}
        ).status_code
        == 403
    )
    assert client.get(f"/admin/privacy/contacts/{person.public_id}/rectify").status_code == 403


def _invite_and_accept(app, client, token: str, email: str, role: str) -> str:
    """Invite from the staff page, log out, set the invitee's
    password with the emailed link, log the owner back in.

    One client throughout: in these tests the app context (and the logged-in user cached on it) spans
    requests, so a second client would see the owner's session. Returns the owner's new CSRF token.
    """
    client.post("/admin/staff", data={"csrf_token": token, "email": email, "role": role})
    drain(app)
    [link] = links_in_mail(app, email, "/admin/invite/")
    client.post("/admin/logout", data={"csrf_token": token})
    form = client.get(link)
    done = client.post(
        link, data={"csrf_token": csrf_token(form.text), "password": PASSWORD, "confirm": PASSWORD}
    )
    assert done.status_code == 302, done.text
    client.post("/admin/logout", data={"csrf_token": csrf_token(client.get("/admin/").text)})
    login(client, "owner@example.com", PASSWORD)
    return csrf_token(client.get("/admin/").text)


def test_staff_accounts_roles_and_the_last_owner(app, app_ctx, worker, client):
    token = _as(client, "owner")
    token = _invite_and_accept(app, client, token, "new@example.com", "marketer")
    new = db.session.execute(select(StaffUser).where(StaffUser.email == "new@example.com")).scalar_one()
    client.post(f"/admin/staff/{new.id}/role", data={"csrf_token": token, "role": "privacy"})
    client.post(f"/admin/staff/{new.id}/active", data={"csrf_token": token})
    me = db.session.execute(select(StaffUser).where(StaffUser.email == "owner@example.com")).scalar_one()
    refused = client.post(
        f"/admin/staff/{me.id}/role", data={"csrf_token": token, "role": "viewer"}, follow_redirects=True
    )
    assert "last owner" in refused.text
    db.session.expire_all()
    new = db.session.get(StaffUser, new.id)
    assert (new.role, new.active) == ("privacy", False)
    assert db.session.get(StaffUser, me.id).role == "owner"
    audit = [
        (e.action, e.details)
        for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    ]
    invite = audit[1][1]["invite"]
    assert audit == [
        ("staff.invite", {"role": "marketer"}),
        ("staff.invite_accept", {"role": "marketer", "invite": invite, "invited_by": me.id}),
        ("staff.role", {"from": "marketer", "to": "privacy"}),
        ("staff.deactivate", {}),
    ]
    # A deactivated account cannot log in any more.
    client.post("/admin/logout", data={"csrf_token": token})
    response = client.post(
        "/admin/login",
        data={
            "email": "new@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_token(client.get("/admin/login").text),
        },
    )
    assert response.status_code == 401
    # An admin cannot make anyone an owner.
    admin_token = _as(client, "admin")
    assert (
        "Only an owner"
        in client.post(
            f"/admin/staff/{new.id}/role",
            data={"csrf_token": admin_token, "role": "owner"},
            follow_redirects=True,
        ).text
    )


def test_settings_publish_the_notice_and_feed_the_record_of_processing(app_ctx, client):
    token = _as(client, "privacy")
    page = client.get("/admin/settings/privacy")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.text),
        "controller_name": "Example GmbH",
        "controller_address": "1 Main St",
        "controller_email": "privacy@example.com",
        "dpo_name": "Dana Protect",
        "dpo_email": "dpo@example.com",
        "authority_name": "BfDI",
        "authority_url": "https://www.bfdi.bund.de",
        "home_country": "the EU",
        "unconfirmed_signups": 14,
        "tracking_events": 180,
        "bounce_logs": 365,
        "inactive_contacts": 730,
        "repermission_enabled": "y",
        "repermission_grace_days": 30,
        "reminder_days": 5,
        "other_uses": "Proof of consent | legal_obligation | What you agreed to and when",
        "automated_decisions": "",
        "provision_consequences": "",
        "security_measures": "Encryption at rest",
    }
    bad = client.post("/admin/settings/privacy", data={**data, "other_uses": "Spying | because"})
    assert bad.status_code == 400 and "legal basis" in bad.text
    saved = client.post("/admin/settings/privacy", data=data, follow_redirects=True)
    assert "Settings saved" in saved.text
    notice = client.get("/privacy").text
    assert "Example GmbH" in notice and "Dana Protect" in notice and "BfDI" in notice and "180 days" in notice
    client.post(
        "/admin/settings/recipients/new",
        data={
            "csrf_token": token,
            "name": "Cloud Mail Inc",
            "role": "processor",
            "country": "USA",
            "outside_eea": "y",
            "safeguard": "",
            "notify_changes": "y",
            "active": "y",
        },
    )
    assert (
        "Cloud Mail Inc" not in client.get("/admin/settings/recipients").text
    )  # refused without a safeguard
    client.post(
        "/admin/settings/recipients/new",
        data={
            "csrf_token": token,
            "name": "Cloud Mail Inc",
            "role": "processor",
            "country": "USA",
            "outside_eea": "y",
            "notify_changes": "y",
            "safeguard": "EU-US Data Privacy Framework",
            "active": "y",
        },
    )
    record = json.loads(client.get("/admin/settings/ropa.json").data)
    assert record["controller"]["name"] == "Example GmbH" and record["dpo"]["name"] == "Dana Protect"
    assert any(
        "Cloud Mail Inc → USA: EU-US Data Privacy Framework" in a["transfers"] for a in record["activities"]
    )
    assert "Direct marketing" in {a["activity"] for a in record["activities"]}
    assert client.get("/admin/settings/ropa.csv").text.startswith("activity,purpose,legal_basis")
    assert "Cloud Mail Inc (USA): EU-US Data Privacy Framework" in client.get("/privacy").text
    # Criminal-record fields are refused with a message; a sensitive field gets its consent purpose.
    refused = client.post(
        "/admin/settings/fields",
        data={
            "csrf_token": token,
            "key": "convictions",
            "label": "Convictions",
            "category": "sensitive",
            "quasi_identifier": "",
        },
    )
    assert refused.status_code == 400 and "Art. 10" in refused.text
    client.post(
        "/admin/settings/fields",
        data={
            "csrf_token": token,
            "key": "religion",
            "label": "Religion",
            "category": "sensitive",
            "quasi_identifier": "",
        },
    )
    assert "Storing your religion" in client.get("/admin/settings/fields").text


def test_audit_log_filters_and_exports(app, app_ctx, worker, client):
    token = _as(client, "owner")
    token = _invite_and_accept(app, client, token, "m@example.com", "marketer")
    page = client.get("/admin/audit?action=staff.")
    assert page.status_code == 200 and "Invited someone to the admin" in page.text
    assert "Accepted a staff invitation" in page.text
    assert "No audit events match" in client.get("/admin/audit?action=contact.erase").text
    exported = client.get("/admin/audit.csv?action=staff.")
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = exported.text.strip().splitlines()
    assert rows[0].startswith("id,created_at_utc,actor,action") and "staff.invite" in rows[1]
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "audit.export")).scalar_one()
    assert re.search(r"owner@example.com", rows[1])


def test_a_request_about_someone_we_do_not_know_is_closed_as_no_data_held(app_ctx, client):
    token = _as(client, "privacy")
    client.post(
        "/admin/privacy/new",
        data={"csrf_token": token, "email": "stranger@example.com", "type": "access", "channel": "email"},
    )
    req = db.session.execute(select(PrivacyRequest)).scalar_one()
    assert req.contact_id is None and req.subject_hash
    page = client.get(f"/admin/privacy/{req.public_id}")
    assert "not one of our contacts" in page.text
    done = client.post(
        f"/admin/privacy/{req.public_id}/fulfil", data={"csrf_token": token}, follow_redirects=True
    )
    assert "We hold no personal data about this person." in done.text
    db.session.expire_all()
    assert db.session.get(PrivacyRequest, req.id).status == "completed"
