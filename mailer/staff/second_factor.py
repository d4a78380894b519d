"""Second factors for staff: TOTP (RFC 6238) with one-time recovery codes;
passkeys live in staff/passkeys.py."""

import hashlib
import secrets
import time
from typing import Any, cast

import pyotp
import segno
from cryptography.fernet import InvalidToken
from sqlalchemy import CursorResult, Delete, delete, func, or_, select, update

from mailer import audit
from mailer.contacts.keys import master_keys
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.organisation import settings as organisation_settings
from mailer.staff.models.accounts import ROLES_NEEDING_SECOND_FACTOR, StaffUser
from mailer.staff.models.security import StaffPasskey, StaffRecoveryCode
from mailer.staff.sessions import end_sessions

RECOVERY_CODE_COUNT = 10
TOTP_DRIFT_STEPS = (
    1  # a code from the step before or after is accepted too (clocks drift, people type slowly)
)


class SecondFactorError(ValueError):
    """A second-factor change was refused; the message says why."""


def required_for(user: StaffUser) -> bool:
    """Whether this person's role can export or reveal personal data, and so must use a second factor."""
    return user.role in ROLES_NEEDING_SECOND_FACTOR


def passkeys(user: StaffUser) -> list[StaffPasskey]:
    """A user's passkeys, oldest first."""
    return list(
        db.session.execute(
            select(StaffPasskey)
            .where(StaffPasskey.user_id == user.id)
            .order_by(StaffPasskey.created_at, StaffPasskey.id)
        ).scalars()
    )


def factors_by_user() -> dict[int, list[str]]:
    """For the staff list: each account's second factors by name ("authenticator app", "passkey")."""
    found: dict[int, list[str]] = {}
    for user_id in db.session.execute(
        select(StaffUser.id).where(StaffUser.totp_enabled_at.is_not(None))
    ).scalars():
        found.setdefault(user_id, []).append("authenticator app")
    for user_id in db.session.execute(select(StaffPasskey.user_id).distinct()).scalars():
        found.setdefault(user_id, []).append("passkey")
    return found


def passkey_count(user: StaffUser) -> int:
    return db.session.execute(
        select(func.count()).select_from(StaffPasskey).where(StaffPasskey.user_id == user.id)
    ).scalar_one()


def has_second_factor(user: StaffUser) -> bool:
    """Whether the login asks this person for a second factor."""
    return user.totp_enabled_at is not None or passkey_count(user) > 0


def _secret(user: StaffUser) -> str | None:
    if user.totp_secret is None:
        return None
    try:
        return master_keys().decrypt(user.totp_secret).decode()
    except InvalidToken:
        raise SecondFactorError(
            "The authenticator secret cannot be read with the configured MAILER_DATA_KEYS."
        ) from None


def reseal_totp_secrets() -> int:
    """Re-encrypt every TOTP secret under the newest master key
    (part of `flask keys reencrypt`). Caller commits."""
    keys = master_keys()
    count = 0
    for user in db.session.execute(select(StaffUser).where(StaffUser.totp_secret.is_not(None))).scalars():
        if user.totp_secret is None:
            continue
        try:
            user.totp_secret = keys.rotate(user.totp_secret)
        except InvalidToken:
            raise SecondFactorError(
                f"The authenticator secret of staff account {user.id} is not readable with any "
                "configured key; keep the old key in MAILER_DATA_KEYS until re-encryption "
                "succeeds."
            ) from None
        count += 1
    return count


def enrolment_secret(user: StaffUser) -> str:
    """The secret being set up (the same one until enrolment completes,
    so reloading shows the same QR code)."""
    pending = _secret(user) if user.totp_enabled_at is None else None
    if pending is not None:
        return pending
    if user.totp_enabled_at is not None:
        raise SecondFactorError("An authenticator app is already set up.")
    secret = pyotp.random_base32()
    try:
        user.totp_secret = master_keys().encrypt(secret.encode())
    except PrivacyError:
        raise SecondFactorError(
            "Setting up a second factor needs MAILER_DATA_KEYS on the server (the key that "
            "encrypts the authenticator secrets). Please ask whoever runs this server to set "
            "it, as the README's Production section shows."
        ) from None
    user.totp_last_step = None
    db.session.commit()
    return secret


def provisioning_uri(user: StaffUser, secret: str) -> str:
    """The otpauth:// URI authenticator apps read from the QR code."""
    issuer = f"{organisation_settings.name()} mailer"
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code, rendered here (no outside service ever sees the secret)."""
    return segno.make(uri, error="m").svg_inline(
        scale=5, border=4, title="QR code for your authenticator app"
    )


def manual_key(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str) -> int | None:
    code = "".join((code or "").split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(time.time())
    for step in range(now - TOTP_DRIFT_STEPS, now + TOTP_DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _claim_step(user: StaffUser, step: int) -> bool:
    """Use a time step once: a second request with the same code (or an older one) is refused."""
    claimed = (
        cast(
            "CursorResult[Any]",
            db.session.execute(
                update(StaffUser)
                .where(
                    StaffUser.id == user.id,
                    or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        == 1
    )
    db.session.refresh(user)
    return claimed


def verify_totp(user: StaffUser, code: str) -> bool:
    """Whether the code is the account's current TOTP code, not used before. The caller commits."""
    if user.totp_enabled_at is None:
        return False
    secret = _secret(user)
    step = _matching_step(secret, code) if secret is not None else None
    return step is not None and _claim_step(user, step)


def enable_totp(user: StaffUser, code: str) -> list[str]:
    """Finish setting up the app with its first code;
    returns new recovery codes when there were none. Commits."""
    if user.totp_enabled_at is not None:
        raise SecondFactorError("An authenticator app is already set up.")
    secret = _secret(user)
    step = _matching_step(secret, code) if secret else None
    if step is None or not _claim_step(user, step):
        raise SecondFactorError("That code is not right. Enter the 6-digit code your app shows now.")
    # Turning protection on is recorded by totp_enabled_at (shown on the account page), not in the audit log,
    # which keeps what weakens an account or touches personal data: removals, new recovery codes, their use.
    user.totp_enabled_at = utcnow()
    codes = first_recovery_codes(user)
    db.session.commit()
    return codes


def disable_totp(user: StaffUser, code: str, ip: str | None = None) -> None:
    """Remove the app, proven by a fresh code from it (or a recovery code). The caller commits."""
    if user.totp_enabled_at is None:
        raise SecondFactorError("No authenticator app is set up.")
    if required_for(user) and passkey_count(user) == 0:
        raise SecondFactorError(
            f"Your role ({user.role}) needs a second factor: add a passkey before removing "
            "the authenticator app."
        )
    if not (verify_totp(user, code) or use_recovery_code(user, code, ip)):
        raise SecondFactorError("That code is not right: removing the app needs a fresh code from it.")
    user.totp_enabled_at, user.totp_secret, user.totp_last_step = None, None, None
    audit.record("staff.totp_disable", "staff", str(user.id), {}, actor=user, ip=ip)


def reset_second_factors(user: StaffUser) -> None:
    """Remove every second factor of an account (the operator's way back in after a lost phone and lost
    recovery codes); its sessions end, and a role that needs one sets it up again at the next login. The
    caller commits."""
    user.totp_enabled_at, user.totp_secret, user.totp_last_step = None, None, None
    _delete_rows(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user.id))
    _delete_rows(delete(StaffPasskey).where(StaffPasskey.user_id == user.id))
    end_sessions(user)
    audit.record("staff.second_factor_reset", "staff", str(user.id), {})


def _code_digest(code: str) -> str:
    return hashlib.sha256("".join((code or "").split()).replace("-", "").lower().encode()).hexdigest()


def first_recovery_codes(user: StaffUser) -> list[str]:
    """Recovery codes to go with a first second factor (none when the person still has some)."""
    return _replace_recovery_codes(user) if recovery_codes_left(user) == 0 else []


def new_recovery_codes(user: StaffUser, ip: str | None = None) -> list[str]:
    """Replace the recovery codes with fresh ones (the old ones stop working); audited. The caller commits."""
    audit.record("staff.recovery_codes", "staff", str(user.id), {}, actor=user, ip=ip)
    return _replace_recovery_codes(user)


def _delete_rows(statement: Delete) -> None:
    """A bulk DELETE that leaves the session's objects alone, as a Core statement would."""
    db.session.execute(statement.execution_options(synchronize_session=False))


def _replace_recovery_codes(user: StaffUser) -> list[str]:
    """Fresh codes, returned once in plain text; only their hashes are kept."""
    _delete_rows(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(6)  # 48 random bits, shown as xxxx-xxxx-xxxx
        codes.append("-".join(raw[i : i + 4] for i in range(0, 12, 4)))
        db.session.add(StaffRecoveryCode(user_id=user.id, code_hash=_code_digest(raw)))
    return codes


def recovery_codes_left(user: StaffUser) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(StaffRecoveryCode)
        .where(StaffRecoveryCode.user_id == user.id, StaffRecoveryCode.used_at.is_(None))
    ).scalar_one()


def use_recovery_code(user: StaffUser, code: str, ip: str | None = None) -> bool:
    """Spend one recovery code (it never works again, even in a simultaneous request). The caller commits."""
    spent = (
        cast(
            "CursorResult[Any]",
            db.session.execute(
                update(StaffRecoveryCode)
                .where(
                    StaffRecoveryCode.user_id == user.id,
                    StaffRecoveryCode.code_hash == _code_digest(code),
                    StaffRecoveryCode.used_at.is_(None),
                )
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        == 1
    )
    if spent:
        audit.record(
            "staff.recovery_code_used",
            "staff",
            str(user.id),
            {"left": recovery_codes_left(user)},
            actor=user,
            ip=ip,
        )
    return spent
