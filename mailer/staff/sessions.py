"""Server-side staff sessions: the cookie holds a random token,
the database decides whether it still counts."""

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, select, update

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.staff.models.accounts import StaffUser
from mailer.staff.models.security import StaffSession

COOKIE_KEY = "staff_session"  # the key in Flask's signed session cookie that holds the token
SEEN_RESOLUTION = timedelta(minutes=1)  # last_seen_at is written at most once a minute per session

_BROWSERS = [
    ("Edge", r"Edg(e|A|iOS)?/"),
    ("Opera", r"OPR/"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Chrome", r"Chrome/|CriOS/|Chromium/"),
    ("Safari", r"Safari/"),
]
_SYSTEMS = [
    ("Android", r"Android"),
    ("iOS", r"iPhone|iPad"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X"),
    ("ChromeOS", r"CrOS"),
    ("Linux", r"Linux"),
]


def browser_class(user_agent: str | None) -> str:
    """A coarse label such as "Firefox on Linux": enough to recognise one's own devices, nothing more."""
    ua = user_agent or ""
    browser = next((name for name, pattern in _BROWSERS if re.search(pattern, ua)), "Other browser")
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, ua)), "")
    return f"{browser} on {system}" if system else browser


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: StaffUser, user_agent: str | None, second_factor: str | None) -> str:
    """Record a new logged-in browser and return the token its cookie carries; the caller commits."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        StaffSession(
            user_id=user.id,
            token_hash=_digest(token),
            client=browser_class(user_agent),
            second_factor=second_factor,
        )
    )
    return token


def _idle_limit() -> timedelta:
    return timedelta(seconds=current_app.config["STAFF_SESSION_MAX_AGE"])


def session_for_token(user_id: int, token: str | None) -> StaffSession | None:
    """The live session a cookie names, if it belongs to this active user; refreshes its last-seen time."""
    if not token or not isinstance(token, str):
        return None
    row = db.session.execute(
        select(StaffSession).where(StaffSession.token_hash == _digest(token))
    ).scalar_one_or_none()
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return None
    now = utcnow()
    if now - row.last_seen_at > _idle_limit():
        end_session(row)
        db.session.commit()
        return None
    if now - row.last_seen_at >= SEEN_RESOLUTION:
        row.last_seen_at = now
        db.session.commit()
    return row


def end_session(row: StaffSession) -> None:
    """End one session: its cookie stops working at once. The caller commits."""
    if row.ended_at is None:
        row.ended_at = utcnow()


def end_sessions(user: StaffUser, keep: StaffSession | None = None) -> int:
    """End every live session of a user except `keep`; returns how many ended. The caller commits."""
    query = update(StaffSession).where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(StaffSession.id != keep.id)
    result = db.session.execute(query.values(ended_at=utcnow()).execution_options(synchronize_session=False))
    return cast("CursorResult[Any]", result).rowcount


def live_sessions(user: StaffUser) -> list[StaffSession]:
    """A user's sessions that still work, most recently used first."""
    cutoff = utcnow() - _idle_limit()
    query = select(StaffSession).where(
        StaffSession.user_id == user.id, StaffSession.ended_at.is_(None), StaffSession.last_seen_at >= cutoff
    )
    return list(
        db.session.execute(query.order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())).scalars()
    )


def find_live_session(user: StaffUser, public_id: str) -> StaffSession | None:
    """One of the user's own live sessions by its opaque id (never another person's)."""
    return next((row for row in live_sessions(user) if row.public_id == public_id), None)
