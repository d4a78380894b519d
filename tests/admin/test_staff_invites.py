"""Staff invitations: nobody sets a password for someone else; the invitee chooses theirs through a signed,
purpose-salted, expiring, single-use link sent through the outbox. Pending invitations can be sent again or
revoked."""

import re
import time

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.core.security import make_token
from mailer.staff import management as staff_accounts
from mailer.staff.accounts import create_staff
from mailer.staff.models.accounts import StaffInvite, StaffUser
from tests.support.http import csrf_token, login
from tests.support.privacy import links_in_mail
from tests.support.signup import page, signed_at, token_payload
from tests.support.workers import drain

PASSWORD = "correct horse battery"
NEW_PASSWORD = "my very own secret phrase"


def _owner(client) -> str:
    create_staff("owner@example.com", PASSWORD, "owner")
    db.session.commit()
    login(client, "owner@example.com", PASSWORD)
    return csrf_token(client.get("/admin/staff").text)


def _invite(app, client, token, email="ivy@example.com", role="marketer"):
    response = client.post(
        "/admin/staff", data={"csrf_token": token, "email": email, "role": role}, follow_redirects=True
    )
    drain(app)
    return response


def _accept(client, link, password=NEW_PASSWORD, confirm=None):
    form = client.get(link)
    if (
        form.status_code != 200
    ):  # an unusable link shows no form: post as a forger would, with a valid CSRF token
        form = client.get("/admin/login")
    return client.post(
        link,
        data={
            "csrf_token": csrf_token(form.text),
            "password": password,
            "confirm": password if confirm is None else confirm,
        },
    )


def test_an_invitee_sets_their_own_password_once(app, app_ctx, worker, client):
    token = _owner(client)
    shown = _invite(app, client, token)
    assert "Invitation sent to ivy@example.com" in page(shown)
    assert "ivy@example.com" in page(shown) and "Send again" in page(shown)  # listed as waiting
    assert db.session.execute(select(StaffUser).where(StaffUser.email == "ivy@example.com")).first() is None
    [link] = links_in_mail(app, "ivy@example.com", "/admin/invite/")
    # The link names the invitation only by opaque ids: no address, no role.
    assert set(token_payload(link.rsplit("/", 1)[1])) == {"i", "n"}

    client.post("/admin/logout", data={"csrf_token": token})
    form = client.get(link)
    assert form.status_code == 200
    assert "You're invited as ivy@example.com with the role marketer" in re.sub(r"<[^>]+>", "", page(form))
    mismatch = _accept(client, link, confirm="something else entirely")
    assert mismatch.status_code == 400 and "The passwords don't match." in page(mismatch)
    too_short = _accept(client, link, password="short")
    assert too_short.status_code == 400

    done = _accept(client, link)
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/")
    assert "Welcome! Your account (marketer) is ready." in page(client.get("/admin/"))
    user = db.session.execute(select(StaffUser).where(StaffUser.email == "ivy@example.com")).scalar_one()
    assert user.role == "marketer" and user.check_password(NEW_PASSWORD)
    assert user.last_login_at is not None  # accepting logged them in: the staff list says so, not "never"
    client.post("/admin/logout", data={"csrf_token": csrf_token(client.get("/admin/").text)})

    again = client.get(link)  # single use
    assert again.status_code == 404 and "already used" in page(again)
    assert _accept(client, link, password="another password 123").status_code == 404
    db.session.expire_all()
    assert db.session.get(StaffUser, user.id).check_password(NEW_PASSWORD)
    login(client, "ivy@example.com", NEW_PASSWORD)
    actions = [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions == ["staff.invite", "staff.invite_accept"]


def test_sending_again_replaces_the_link_and_revoking_kills_it(app, app_ctx, worker, client):
    token = _owner(client)
    _invite(app, client, token)
    invite = db.session.execute(select(StaffInvite)).scalar_one()
    resent = client.post(
        f"/admin/staff/invites/{invite.public_id}/resend", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Invitation sent to ivy@example.com again." in page(resent)
    drain(app)
    first, second = links_in_mail(app, "ivy@example.com", "/admin/invite/")
    assert "not valid" in page(client.get(first)) and client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    assert "sent 2 times" in page(client.get("/admin/staff"))

    revoked = client.post(
        f"/admin/staff/invites/{invite.public_id}/revoke", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Invitation to ivy@example.com revoked." in page(revoked)
    assert "Invitations waiting" not in page(revoked)
    assert client.get(second).status_code == 404
    assert _accept(client, second).status_code == 404
    assert db.session.execute(select(StaffUser).where(StaffUser.email == "ivy@example.com")).first() is None
    twice = client.post(
        f"/admin/staff/invites/{invite.public_id}/resend", data={"csrf_token": token}, follow_redirects=True
    )
    assert "This invitation was revoked" in page(twice)
    actions = [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions == ["staff.invite", "staff.invite_resend", "staff.invite_revoke"]


def test_an_expired_or_forged_link_creates_nothing(app, app_ctx, worker, client):
    token = _owner(client)
    _invite(app, client, token)
    invite = db.session.execute(select(StaffInvite)).scalar_one()
    payload = {"i": invite.public_id, "n": invite.nonce}
    old = signed_at(app.config["SECRET_KEY"], "staff-invite", payload, time.time() - 73 * 3600)
    client.post("/admin/logout", data={"csrf_token": token})
    expired = client.get(f"/admin/invite/{old}")
    assert expired.status_code == 410 and "This invitation has expired" in page(expired)
    # Signed for another purpose (a subscriber's confirmation link) or with a guessed nonce: refused.
    assert client.get(f"/admin/invite/{make_token('confirm', payload)}").status_code == 404
    guessed = make_token("staff-invite", {"i": invite.public_id, "n": "guess"})
    assert client.get(f"/admin/invite/{guessed}").status_code == 404
    assert client.get("/admin/invite/" + "x" * 600).status_code == 404
    # The stored expiry counts too (e.g. after the setting is shortened).
    invite.expires_at = invite.created_at
    db.session.commit()
    [link] = links_in_mail(app, "ivy@example.com", "/admin/invite/")
    assert client.get(link).status_code == 410
    assert db.session.execute(select(StaffUser).where(StaffUser.email == "ivy@example.com")).first() is None


def test_the_invitation_form_offers_the_least_privilege_first(app, app_ctx, client):
    _owner(client)
    html = client.get("/admin/staff").text
    invite_form = html[html.index("Invite someone") :]
    select = re.search(r'<select[^>]*name="role"[^>]*>(.*?)</select>', invite_form, re.S).group(1)
    assert re.findall(r"<option[^>]*\bselected\b[^>]*>([^<]*)<", select) == ["viewer"]


@pytest.mark.parametrize(
    "email, role, message",
    [
        ("owner@example.com", "viewer", "An account with that email already exists."),
        ("not-an-address", "viewer", "look like an email address"),
        ("ivy@example.com", "viewer", "already has an invitation waiting"),
    ],
)
def test_refused_invitations_say_why(app, app_ctx, worker, client, email, role, message):
    token = _owner(client)
    _invite(app, client, token)
    response = client.post("/admin/staff", data={"csrf_token": token, "email": email, "role": role})
    assert response.status_code == 400 and message in page(response)
    assert db.session.execute(select(StaffInvite)).scalars().all().__len__() == 1


def test_only_an_owner_invites_an_owner(app, app_ctx, worker, client):
    create_staff("admin@example.com", PASSWORD, "admin")
    db.session.commit()
    login(client, "admin@example.com", PASSWORD)
    token = csrf_token(client.get("/admin/staff").text)
    response = client.post(
        "/admin/staff", data={"csrf_token": token, "email": "boss@example.com", "role": "owner"}
    )
    assert response.status_code == 400 and "Only an owner" in page(response)
    assert db.session.execute(select(StaffInvite)).first() is None


def test_two_acceptances_of_one_link_make_one_account(app, app_ctx):
    owner = create_staff("owner@example.com", PASSWORD, "owner")
    invite = staff_accounts.invite_staff(owner, "ivy@example.com", "viewer")
    db.session.commit()
    link_token = staff_accounts.invite_token(invite)
    staff_accounts.accept_invite(link_token, NEW_PASSWORD)
    db.session.commit()
    with pytest.raises(staff_accounts.PrivacyError, match="already used"):
        staff_accounts.accept_invite(link_token, NEW_PASSWORD)
    db.session.rollback()
    assert len(db.session.execute(select(StaffUser).where(StaffUser.email == "ivy@example.com")).all()) == 1
