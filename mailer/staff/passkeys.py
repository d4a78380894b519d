"""Passkeys (WebAuthn) as a second factor: register, use at login, remove.
The `webauthn` package checks them."""

import json
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from mailer import audit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.organisation import settings as organisation_settings
from mailer.staff import second_factor
from mailer.staff.models.accounts import StaffUser
from mailer.staff.models.security import StaffPasskey
from mailer.staff.second_factor import SecondFactorError

MAX_CREDENTIAL_JSON = 16 * 1024


def relying_party() -> tuple[str, str]:
    """(RP ID, origin) from MAILER_BASE_URL: passkeys are bound to the site's real name,
    never to a Host header."""
    parts = urlsplit(current_app.config["MAILER_BASE_URL"])
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def _descriptors(user: StaffUser) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(id=base64url_to_bytes(key.credential_id))
        for key in second_factor.passkeys(user)
    ]


def registration_options(user: StaffUser) -> tuple[str, str]:
    """The options JSON for navigator.credentials.create() and its challenge
    (kept by the caller until the answer)."""
    rp_id, _ = relying_party()
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=f"{organisation_settings.name()} mailer",
        user_name=user.email,
        user_id=f"staff-{user.id}".encode(),
        user_display_name=user.email,
        exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def _credential(raw: str) -> dict:
    if not raw or len(raw) > MAX_CREDENTIAL_JSON:
        raise SecondFactorError("The browser sent no usable passkey answer.")
    try:
        credential = json.loads(raw)
    except ValueError:
        raise SecondFactorError("The browser sent no usable passkey answer.") from None
    if not isinstance(credential, dict):
        raise SecondFactorError("The browser sent no usable passkey answer.")
    return credential


def add_passkey(
    user: StaffUser, raw_credential: str, challenge: str, name: str, ip: str | None = None
) -> tuple[StaffPasskey, list[str]]:
    """Check a new credential against the challenge we issued and store it;
    new recovery codes if none exist yet.

    The caller commits.
    """
    rp_id, origin = relying_party()
    try:
        verified = verify_registration_response(
            credential=_credential(raw_credential),
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, SecondFactorError):
            raise
        raise SecondFactorError("This passkey could not be registered. Please try again.") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.execute(select(StaffPasskey.id).where(StaffPasskey.credential_id == credential_id)).first():
        raise SecondFactorError("This passkey is already registered.")
    key = StaffPasskey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=(name or "").strip()[:100] or "Passkey",
    )
    db.session.add(key)
    db.session.flush()
    audit.record("staff.passkey_add", "staff", str(user.id), {"passkey": key.public_id}, actor=user, ip=ip)
    codes = second_factor.first_recovery_codes(user)
    return key, codes


def authentication_options(user: StaffUser) -> tuple[str, str]:
    """The options JSON for navigator.credentials.get() (this user's passkeys only) and its challenge."""
    rp_id, _ = relying_party()
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def verify_passkey(user: StaffUser, raw_credential: str, challenge: str) -> bool:
    """Whether the answer is a valid signature over our
    challenge by one of this user's passkeys. Caller commits."""
    try:
        credential = _credential(raw_credential)
    except SecondFactorError:
        return False
    key = db.session.execute(
        select(StaffPasskey).where(
            StaffPasskey.user_id == user.id, StaffPasskey.credential_id == str(credential.get("id", ""))
        )
    ).scalar_one_or_none()
    if key is None:
        return False
    rp_id, origin = relying_party()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError):
        return False
    key.sign_count, key.last_used_at = verified.new_sign_count, utcnow()
    return True


def remove_passkey(user: StaffUser, public_id: str, ip: str | None = None) -> StaffPasskey:
    """Remove one of one's own passkeys,
    unless the role would be left without a second factor. Caller commits."""
    key = db.session.execute(
        select(StaffPasskey).where(StaffPasskey.user_id == user.id, StaffPasskey.public_id == public_id)
    ).scalar_one_or_none()
    if key is None:
        raise SecondFactorError("That passkey is not registered to your account.")
    if (
        second_factor.required_for(user)
        and user.totp_enabled_at is None
        and second_factor.passkey_count(user) <= 1
    ):
        raise SecondFactorError(
            f"Your role ({user.role}) needs a second factor: set up an authenticator app or "
            "add another passkey before removing this one."
        )
    db.session.delete(key)
    audit.record("staff.passkey_remove", "staff", str(user.id), {"passkey": public_id}, actor=user, ip=ip)
    return key
