"""Versioned, immutable notices: the exact words people were shown."""

import hashlib
import json

from sqlalchemy import func, select

from mailer.consent.models import Notice
from mailer.core.extensions import db

# The privacy notice (written by the privacy domain): withdrawals record the version in force when they
# happen.
PRIVACY_NOTICE_KEY = "privacy-notice"
ENGLISH = "en"


def privacy_notice_key(language: str | None) -> str:
    """The key of the privacy notice's series in a language: English is the first series, each other language
    its own ("privacy-notice:it")."""
    return PRIVACY_NOTICE_KEY if not language or language == ENGLISH else f"{PRIVACY_NOTICE_KEY}:{language}"


def privacy_notice_in_force(language: str | None) -> Notice | None:
    """The privacy notice a person reading `language` is under: the newest version of that language's series,
    else (a series not yet published) the English one; leaving.py and leave_lists_v4.sql spell this rule
    again."""
    keys = {privacy_notice_key(language), PRIVACY_NOTICE_KEY}
    query = (
        select(Notice)
        .where(Notice.key.in_(keys))
        .order_by(Notice.key == PRIVACY_NOTICE_KEY, Notice.version.desc())
        .limit(1)
    )
    return db.session.execute(query).scalar_one_or_none()


def content_hash(content: dict) -> str:
    """SHA-256 of the canonical JSON form of a notice's content."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def latest_notice(key: str) -> Notice | None:
    """Newest version of the notice with this key."""
    query = select(Notice).where(Notice.key == key).order_by(Notice.version.desc()).limit(1)
    return db.session.execute(query).scalar_one_or_none()


def publish_notice(key: str, content: dict) -> Notice:
    """Return the current version if its words are unchanged, else add a new version (never edit an old
    one)."""
    digest = content_hash(content)
    current = latest_notice(key)
    if current is not None and current.content_hash == digest:
        return current
    version = (
        db.session.execute(select(func.max(Notice.version)).where(Notice.key == key)).scalar() or 0
    ) + 1
    notice = Notice(key=key, version=version, content=content, content_hash=digest)
    db.session.add(notice)
    db.session.flush()
    return notice


def notice_versions(key: str) -> list[Notice]:
    """All versions of a notice, newest first."""
    query = select(Notice).where(Notice.key == key).order_by(Notice.version.desc())
    return list(db.session.execute(query).scalars())
