"""Staff accounts: the marketers and administrators who log in to the admin."""

from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from mailer.core.clock import utcnow
from mailer.core.extensions import Model
from mailer.core.ids import new_public_id

ROLES = ("owner", "admin", "marketer", "viewer", "privacy")
# Roles that handle data-subject requests: restrictions, personal exports, erasures (one contact or in bulk).
PRIVACY_ROLES = ("owner", "privacy")
# The roles the permission map lets export or reveal personal data: they must log in with a second factor
# (a test checks this against mailer/admin/permissions.py).
ROLES_NEEDING_SECOND_FACTOR = ("owner", "admin", "privacy")


class StaffUser(UserMixin, Model):
    """A person who works in the admin, with one role."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20), default="admin")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Per-account lockout: wrong passwords (or second-factor codes) since the last success, and how often the
    # account was locked in a row (each lock lasts twice as long as the one before).
    failed_logins: Mapped[int] = mapped_column(default=0)
    lockouts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # TOTP (RFC 6238): the secret sealed under MAILER_DATA_KEYS;
    # set but not enabled while enrolment is pending.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[
        int | None
    ]  # the newest time step used, so a code cannot be replayed in its window
    password_changed_at: Mapped[datetime | None]
    # The admin's language for this person (a code of mailer.core.i18n.LANGUAGES); None follows the browser.
    language: Mapped[str | None] = mapped_column(String(10))

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash of the password (werkzeug's default cost; PASSWORD_HASH_METHOD)."""
        method = current_app.config["PASSWORD_HASH_METHOD"]
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        """True when the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # flask-login reads this
        return self.active


class StaffInvite(Model):
    """An invitation to join the admin:
    the invitee sets their own password through a single-use emailed link."""

    __tablename__ = "staff_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # Changes with every (re-)sent email, so only the newest link works; the link carries it, signed.
    nonce: Mapped[str] = mapped_column(String(64))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    send_count: Mapped[int] = mapped_column(default=0)
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    invited_by = relationship("StaffUser")

    @property
    def status(self) -> str:
        """accepted, revoked, expired or pending."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= utcnow() else "pending"
