"""Tagging contacts: add and remove a tag (each audited), and read the tags of one or many contacts."""

from sqlalchemy import delete, func, select

from mailer import audit
from mailer.contacts import hooks
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.tags import ContactTag, Tag
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.text import has_controls

MAX_TAG_LENGTH = 60


class TagError(PrivacyError):
    """A tag could not be added; the message says why."""


def clean_tag_name(raw: str | None) -> str:
    """A tag as typed, with its spaces tidied; refused when empty, too long or with control characters."""
    name = " ".join((raw or "").split())
    if not name:
        raise TagError("Type a tag.")
    if len(name) > MAX_TAG_LENGTH or has_controls(name):
        raise TagError(f"A tag is plain text of {MAX_TAG_LENGTH} characters at most.")
    return name


def tag_by_name(name: str) -> Tag | None:
    return db.session.execute(select(Tag).where(Tag.key == name.casefold())).scalar_one_or_none()


def ensure_tag(raw: str | None) -> Tag:
    """The tag of that name (any letter case), created when new; the caller commits."""
    name = clean_tag_name(raw)
    tag = tag_by_name(name)
    if tag is None:
        tag = Tag(name=name, key=name.casefold())
        db.session.add(tag)
        db.session.flush()
    return tag


def add_tag(
    contact: Contact, raw: str | None, actor: object, ip: str | None = None, via: dict | None = None
) -> Tag:
    """Put a tag on a contact (nothing changes when it is already there); audited (`via`: how, when not by a
    staff member, e.g. an API key). The caller commits."""
    tag = ensure_tag(raw)
    if db.session.get(ContactTag, (contact.id, tag.id)) is None:
        db.session.add(ContactTag(contact_id=contact.id, tag_id=tag.id))
        details = {"tag": tag.name, **(via or {})}
        audit.record("contact.tag", "contact", contact.public_id, details, actor=actor, ip=ip)
        db.session.flush()
        hooks.tag_added(contact.id, tag.id)
    return tag


def remove_tag(
    contact: Contact, tag: Tag, actor: object, ip: str | None = None, via: dict | None = None
) -> bool:
    """Take a tag off a contact; audited when it was there. The caller commits."""
    removed = db.session.execute(
        delete(ContactTag).where(ContactTag.contact_id == contact.id, ContactTag.tag_id == tag.id)
    )
    if not getattr(removed, "rowcount", 0):
        return False
    details = {"tag": tag.name, **(via or {})}
    audit.record("contact.untag", "contact", contact.public_id, details, actor=actor, ip=ip)
    return True


def all_tags() -> list[tuple[Tag, int]]:
    """Every tag with how many contacts carry it, by name."""
    rows = db.session.execute(
        select(Tag, func.count(ContactTag.contact_id))
        .outerjoin(ContactTag, ContactTag.tag_id == Tag.id)
        .group_by(Tag.id)
        .order_by(Tag.key)
    ).all()
    return [(tag, count) for tag, count in rows]


def tags_of(contact_ids: list[int]) -> dict[int, list[Tag]]:
    """The tags of each of these contacts (one query), by name."""
    if not contact_ids:
        return {}
    rows = db.session.execute(
        select(ContactTag.contact_id, Tag)
        .join(Tag, Tag.id == ContactTag.tag_id)
        .where(ContactTag.contact_id.in_(contact_ids))
        .order_by(Tag.key)
    ).all()
    found: dict[int, list[Tag]] = {}
    for contact_id, tag in rows:
        found.setdefault(contact_id, []).append(tag)
    return found
