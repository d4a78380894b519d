"""Who may receive a campaign, and why everyone else may not (issue 3; REQUIREMENTS B2, F3, F8, G3).

One rule, three uses: the compliance preview counts exclusions by reason, the planner pages eligible contacts,
and the batch actor re-checks each recipient when the message is actually sent (an unsubscribe while queued
stops that send). A contact is eligible for a list when they are active (restricted and erased contacts never
get mail), not suppressed, confirmed on the list, have granted the list's purpose, have not objected to direct
marketing, and are not on one of the campaign's exclusion lists.
"""

from dataclasses import dataclass

from sqlalchemy import ARRAY, Integer, String, and_, any_, case, cast, exists, func, literal, or_, select

from mailer.core.extensions import db
from mailer.consent.models import ConsentState, Purpose
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.subscriptions.models.lists import Subscription
from mailer.contacts.models.suppression import Suppression, SuppressionReason
from mailer.campaigns.models import campaign_exclusions, campaign_lists

DIRECT_MARKETING = "direct-marketing"
TRACKING_OPEN = "tracking:open"
TRACKING_CLICK = "tracking:click"
# Exclusion reasons, by rank (0 = eligible). A contact on several lists is counted once, under its best rank.
REASONS = (
    "",
    "no_consent",
    "unconfirmed",
    "unsubscribed",
    "excluded_list",
    "objected",
    "suppressed",
    "bounced",
    "restricted",
    "erased",
)
RANK = {reason: rank for rank, reason in enumerate(REASONS)}


def purpose_id(key: str) -> int | None:
    """The id of a purpose by key (e.g. direct-marketing), or None when this installation has none."""
    return db.session.execute(select(Purpose.id).where(Purpose.key == key)).scalar_one_or_none()


def _rank_query(campaign_id: int):
    """(select of every subscription on the campaign's lists, with contact id, list id and reason rank)."""
    list_purpose = ConsentState.__table__.alias("list_consent")
    objection = ConsentState.__table__.alias("objection")
    excluded_sub = Subscription.__table__.alias("excluded_sub")
    dm_id = purpose_id(DIRECT_MARKETING)
    excluded = exists().where(
        excluded_sub.c.contact_id == Subscription.contact_id,
        excluded_sub.c.status != "unsubscribed",
        excluded_sub.c.list_id.in_(
            select(campaign_exclusions.c.list_id).where(campaign_exclusions.c.campaign_id == campaign_id)
        ),
    )
    rank = case(
        (or_(Contact.status == ContactStatus.ERASED, Contact.email.is_(None)), RANK["erased"]),
        (Contact.status != ContactStatus.ACTIVE, RANK["restricted"]),
        (Suppression.reason == SuppressionReason.HARD_BOUNCE, RANK["bounced"]),
        (Suppression.id.is_not(None), RANK["suppressed"]),
        (objection.c.status == "objected" if dm_id else literal(False), RANK["objected"]),
        (excluded, RANK["excluded_list"]),
        (Subscription.status == "unsubscribed", RANK["unsubscribed"]),
        (Subscription.status != "confirmed", RANK["unconfirmed"]),
        (or_(list_purpose.c.status.is_(None), list_purpose.c.status != "granted"), RANK["no_consent"]),
        else_=0,
    )
    joined = (
        Subscription.__table__.join(
            campaign_lists,
            and_(
                campaign_lists.c.list_id == Subscription.list_id, campaign_lists.c.campaign_id == campaign_id
            ),
        )
        .join(Contact, Contact.id == Subscription.contact_id)
        .outerjoin(Suppression, Suppression.email_hash == Contact.email_hash)
        .outerjoin(Purpose, Purpose.list_id == Subscription.list_id)
        .outerjoin(
            list_purpose,
            and_(
                list_purpose.c.contact_id == Subscription.contact_id, list_purpose.c.purpose_id == Purpose.id
            ),
        )
        .outerjoin(
            objection,
            and_(objection.c.contact_id == Subscription.contact_id, objection.c.purpose_id == (dm_id or -1)),
        )
    )
    return joined, rank


def exclusion_counts(campaign_id: int) -> dict:
    """{"recipients": n, "excluded": {reason: n}} over everyone on the campaign's lists (one SQL query)."""
    joined, rank = _rank_query(campaign_id)
    per_contact = (
        select(Subscription.contact_id, func.min(rank).label("r"))
        .select_from(joined)
        .group_by(Subscription.contact_id)
        .subquery()
    )
    counts = dict(db.session.execute(select(per_contact.c.r, func.count()).group_by(per_contact.c.r)).all())
    excluded = {reason: int(counts.get(rank_, 0)) for rank_, reason in enumerate(REASONS) if rank_}
    return {"recipients": int(counts.get(0, 0)), "excluded": excluded}


def next_page_bound(campaign_id: int, after_contact_id: int, size: int) -> int | None:
    """The highest contact id among the next `size` confirmed subscribers after the cursor (None: no more).

    Keyset paging in two steps keeps every page equally cheap at any list size: this walk of the (contact, list)
    index bounds the page, then the full rule runs within that id range only.
    """
    candidates = (
        select(Subscription.contact_id)
        .join(
            campaign_lists,
            and_(
                campaign_lists.c.list_id == Subscription.list_id, campaign_lists.c.campaign_id == campaign_id
            ),
        )
        .where(Subscription.contact_id > after_contact_id, Subscription.status == "confirmed")
        .order_by(Subscription.contact_id)
        .limit(size)
        .subquery()
    )
    return db.session.execute(select(func.max(candidates.c.contact_id))).scalar()


def eligible_in_range(campaign_id: int, after_contact_id: int, upper: int):
    """SELECT of (contact id, list id) for each eligible contact with after < id <= upper; the lowest list id wins."""
    joined, rank = _rank_query(campaign_id)
    return (
        select(Subscription.contact_id, func.min(Subscription.list_id).label("list_id"))
        .select_from(joined)
        .where(
            Subscription.contact_id > after_contact_id,
            Subscription.contact_id <= upper,
            Subscription.status == "confirmed",
            rank == 0,
        )
        .group_by(Subscription.contact_id)
    )


@dataclass
class Recipient:
    """One claimed delivery and what the send-time check found."""

    delivery_id: int
    contact_id: int
    list_id: int | None
    public_id: str = ""
    email: str = ""
    email_hash: str | None = None
    name: str | None = None
    attributes: dict | None = None
    skip_reason: str = ""
    track_opens: bool = False
    track_clicks: bool = False


def _among(column, values: set, item_type):
    """column IN values; on PostgreSQL one array parameter (`= ANY`), so the statement text stays the same whatever
    the chunk size (no per-id placeholders to render and parse, and the driver can reuse its prepared statement).
    The array travels as its text form (ids and hex hashes need no quoting): the driver's list dumper is per item."""
    if db.session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    if item_type is Integer or all(value.isalnum() for value in values):
        text = "{" + ",".join(map(str, values)) + "}"
        return column == any_(cast(literal(text, String), ARRAY(item_type)))
    return column == any_(literal(sorted(values), ARRAY(item_type)))


def recheck(campaign_id: int, claimed: list[tuple[int, int, int | None]]) -> list[Recipient]:
    """Re-check eligibility of claimed (delivery id, contact id, list id) rows at send time, in a few queries."""
    contact_ids = {contact_id for _, contact_id, _ in claimed}
    list_ids = {list_id for _, _, list_id in claimed if list_id is not None}
    of_contacts = _among(Contact.id, contact_ids, Integer)
    conn = db.session.connection()  # Core statements on the session's transaction: no ORM layer per query
    contacts = {
        row.id: row
        for row in conn.execute(
            select(
                Contact.id,
                Contact.public_id,
                Contact.email,
                Contact.email_hash,
                Contact.name,
                Contact.attributes,
                Contact.status,
            ).where(of_contacts)
        )
    }
    subs = {
        (c, l): s
        for c, l, s in conn.execute(
            select(Subscription.contact_id, Subscription.list_id, Subscription.status).where(
                _among(Subscription.contact_id, contact_ids, Integer),
                _among(Subscription.list_id, list_ids, Integer),
            )
        )
    }
    list_purposes = dict(
        conn.execute(
            select(Purpose.list_id, Purpose.id).where(_among(Purpose.list_id, list_ids, Integer))
        ).all()
    )
    special = dict(
        conn.execute(
            select(Purpose.key, Purpose.id).where(
                Purpose.key.in_((DIRECT_MARKETING, TRACKING_OPEN, TRACKING_CLICK))
            )
        ).all()
    )
    purpose_ids = set(list_purposes.values()) | set(special.values())
    consent = {
        (c, p): s
        for c, p, s in conn.execute(
            select(ConsentState.contact_id, ConsentState.purpose_id, ConsentState.status).where(
                _among(ConsentState.contact_id, contact_ids, Integer),
                _among(ConsentState.purpose_id, purpose_ids, Integer),
            )
        )
    }
    hashes = {row.email_hash for row in contacts.values() if row.email_hash}
    suppressed = dict(
        conn.execute(
            select(Suppression.email_hash, Suppression.reason).where(
                _among(Suppression.email_hash, hashes, String)
            )
        ).all()
    )
    excluded = set(
        conn.execute(
            select(Subscription.contact_id).where(
                _among(Subscription.contact_id, contact_ids, Integer),
                Subscription.status != "unsubscribed",
                Subscription.list_id.in_(
                    select(campaign_exclusions.c.list_id).where(
                        campaign_exclusions.c.campaign_id == campaign_id
                    )
                ),
            )
        ).scalars()
    )
    out = []
    for delivery_id, contact_id, list_id in claimed:
        row = contacts.get(contact_id)
        rec = Recipient(delivery_id, contact_id, list_id)
        rec.skip_reason = _reason(
            row,
            subs.get((contact_id, list_id)),
            consent,
            list_purposes.get(list_id),
            special.get(DIRECT_MARKETING),
            suppressed,
            contact_id in excluded,
        )
        if row is not None and not rec.skip_reason:
            rec.public_id, rec.email, rec.email_hash = row.public_id, row.email, row.email_hash
            rec.name, rec.attributes = row.name, row.attributes
            rec.track_opens = consent.get((contact_id, special.get(TRACKING_OPEN))) == "granted"
            rec.track_clicks = consent.get((contact_id, special.get(TRACKING_CLICK))) == "granted"
        out.append(rec)
    return out


def _reason(row, sub_status, consent, list_purpose_id, dm_id, suppressed, excluded) -> str:
    """The reason one recipient must be skipped now, or "" when the message may go."""
    if row is None or row.status == ContactStatus.ERASED or not row.email:
        return "erased"
    if row.status != ContactStatus.ACTIVE:
        return "restricted"
    if row.email_hash in suppressed:
        return "bounced" if suppressed[row.email_hash] == SuppressionReason.HARD_BOUNCE else "suppressed"
    if dm_id is not None and consent.get((row.id, dm_id)) == "objected":
        return "objected"
    if excluded:
        return "excluded_list"
    if sub_status == "unsubscribed":
        return "unsubscribed"
    if sub_status != "confirmed":
        return "unconfirmed"
    if list_purpose_id is None or consent.get((row.id, list_purpose_id)) != "granted":
        return "no_consent"
    return ""
