"""The admin's API key pages: the secret is shown once, only
its hash is stored, revoking locks the key out."""

import hashlib
import re

import pytest
from sqlalchemy import select, text

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.staff.models.api_keys import ApiKey
from tests.api.helpers import ApiClient
from tests.support.http import csrf_token, login

SECRET_RE = re.compile(r"mk_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}")


def _create(auth, name="CRM sync", role="read_write"):
    page = auth.get("/admin/api-keys/new")
    assert page.status_code == 200
    return auth.post(
        "/admin/api-keys/new", data={"name": name, "role": role, "csrf_token": csrf_token(page.text)}
    )


def test_secret_is_shown_once_and_only_its_hash_is_stored(app, auth, client):
    response = _create(auth)
    assert response.status_code == 200
    assert "shown only once" in response.text
    secrets_on_page = set(SECRET_RE.findall(response.text))
    assert len(secrets_on_page) == 1
    secret = secrets_on_page.pop()
    assert response.headers["Cache-Control"] == "no-store"

    row = db.session.execute(select(ApiKey)).scalar_one()
    assert row.prefix == secret[3:11] and row.name == "CRM sync" and row.role == "read_write"
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.created_by.email == "owner@example.com"
    dump = " ".join(str(value) for value in db.session.execute(text("SELECT * FROM api_keys")).one())
    assert secret not in dump and secret[12:] not in dump  # neither the key nor its secret part
    session_cookie = client.get_cookie("session")
    assert session_cookie is None or secret not in session_cookie.value

    listing = auth.get("/admin/api-keys")
    assert listing.status_code == 200
    assert f"mk_{row.prefix}_" in listing.text and "CRM sync" in listing.text
    assert not SECRET_RE.search(listing.text)  # never shown again
    assert "API keys" in listing.text  # the nav link

    assert ApiClient(client, secret).get("/lists").status_code == 200
    audit = db.session.execute(select(AuditEvent)).scalar_one()
    assert (audit.action, audit.target_id, audit.actor.email) == (
        "api_key.create",
        row.prefix,
        "owner@example.com",
    )


def test_form_errors_are_shown(auth):
    response = _create(auth, name="")
    assert response.status_code == 400 and "This field is required." in response.text
    response = _create(auth, name="CRM", role="superuser")
    assert response.status_code == 400 and "Not a valid choice" in response.text
    assert db.session.execute(select(ApiKey)).first() is None


def test_revoking_locks_the_key_out(auth, client):
    secret = SECRET_RE.search(_create(auth, role="read_only").text).group(0)
    integration = ApiClient(client, secret)
    assert integration.get("/lists").status_code == 200
    listing = auth.get("/admin/api-keys")
    response = auth.post(
        f"/admin/api-keys/{secret[3:11]}/revoke", data={"csrf_token": csrf_token(listing.text)}
    )
    assert response.status_code == 302
    page = auth.get("/admin/api-keys")
    assert "revoked" in page.text and "Revoke</button>" not in page.text
    refused = integration.get("/lists")
    assert refused.status_code == 401 and "revoked" in refused.get_json()["error"]
    db.session.expire_all()
    row = db.session.execute(select(ApiKey)).scalar_one()
    assert row.revoked_at is not None and row.revoked_by.email == "owner@example.com"


def test_revoke_needs_csrf_and_a_known_key(auth):
    secret = SECRET_RE.search(_create(auth).text).group(0)
    assert auth.post(f"/admin/api-keys/{secret[3:11]}/revoke").status_code == 400  # no CSRF token
    token = csrf_token(auth.get("/admin/api-keys").text)
    assert auth.post("/admin/api-keys/ffffffff/revoke", data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.execute(select(ApiKey.revoked_at)).scalar_one() is None


@pytest.mark.parametrize(
    "role, allowed", [("admin", True), ("marketer", False), ("viewer", False), ("privacy", False)]
)
def test_only_owners_and_admins_manage_keys(client, app_ctx, role, allowed):
    create_staff(f"{role}@example.com", "correct horse battery", role)
    db.session.commit()
    login(client, f"{role}@example.com", "correct horse battery")
    assert client.get("/admin/api-keys").status_code == (200 if allowed else 403)
    assert client.get("/admin/api-keys/new").status_code == (200 if allowed else 403)
    assert ("API keys" in client.get("/admin/").text) is allowed


def test_empty_state(auth):
    page = auth.get("/admin/api-keys")
    assert "No API keys yet" in page.text
