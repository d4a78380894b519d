"""Saving and deleting segments (each audited); the tree is checked by compiling it first."""

from typing import Any

from flask_babel import gettext
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from mailer import audit
from mailer.core.extensions import db
from mailer.core.text import has_controls
from mailer.segments.conditions import SegmentError, compile_tree, parse, to_json
from mailer.segments.models import Segment


def all_segments() -> list[Segment]:
    return list(db.session.execute(select(Segment).order_by(Segment.name)).scalars())


def segment_by_public_id(public_id: str) -> Segment | None:
    return db.session.execute(select(Segment).where(Segment.public_id == public_id)).scalar_one_or_none()


def members_of(segment: Segment) -> Select:
    """The select of the ids of a saved segment's members now (for narrowing a contact search); SegmentError
    when its tree no longer compiles (a field it names was removed)."""
    return compile_tree(segment.tree).query


class SegmentNameError(SegmentError):
    """The segment's name cannot be used (the tree may be fine)."""


def save_segment(
    name: str,
    tree: Any,
    actor: Any,
    segment: Segment | None = None,
    ip: str | None = None,
    via: dict | None = None,
) -> Segment:
    """Create or change a segment; SegmentError when the name or tree cannot be used. The caller commits.
    `via`: added to the audit details (an API key's prefix, when no staff member acts)."""
    name = " ".join((name or "").split())
    if not name or len(name) > 120 or has_controls(name):
        raise SegmentNameError(gettext("Give the segment a name (plain text, 120 characters at most)."))
    compile_tree(tree)  # every reference resolves, no sensitive field, a valid shape
    stored = to_json(parse(tree))
    created = segment is None
    if segment is None:
        segment = Segment(created_by_id=getattr(actor, "id", None))
        db.session.add(segment)
    segment.name, segment.tree = name, stored
    db.session.flush()
    audit.record(
        "segment.save",
        "segment",
        segment.public_id,
        {"name": name, "created": created, "conditions": len(parse(stored).rules()), **(via or {})},
        actor=actor,
        ip=ip,
    )
    return segment


def delete_segment(segment: Segment, actor: Any, ip: str | None = None, via: dict | None = None) -> None:
    """Remove a saved segment; audited. Refused while a campaign targets it. The caller commits."""
    try:
        with db.session.begin_nested():
            db.session.delete(segment)
            db.session.flush()
    except IntegrityError:
        raise SegmentError(
            gettext("A campaign is sent to this segment: it is kept with the campaign.")
        ) from None
    details = {"name": segment.name, **(via or {})}
    audit.record("segment.delete", "segment", segment.public_id, details, actor=actor, ip=ip)
