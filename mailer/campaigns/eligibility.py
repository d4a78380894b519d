"""Who may receive a campaign, and why everyone else may not (REQUIREMENTS B2, F3, F8, G3).

The audience is the campaign's lists plus the members of its segments (each judged on every list they are
on: a segment member is mailed under a list they confirmed), minus members of its exclusion lists.
One rule, written once as one SQL expression (`_rank`) and used three ways: the compliance preview counts
exclusions by reason, the planner pages eligible contacts, and the batch re-checks each claimed recipient when
the message is actually sent (an unsubscribe while queued stops that send). A contact is eligible for a list
when they are active (restricted and erased contacts never get mail), not suppressed, confirmed on the list,
have granted the list's purpose, have not objected to direct marketing, and are not on one of the campaign's
exclusion lists.
"""

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    FromClause,
    Integer,
    String,
    and_,
    any_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union,
)

from mailer.campaigns.models import (
    AbVariant,
    Campaign,
    campaign_exclusions,
    campaign_lists,
    campaign_segments,
)
from mailer.consent.models import ConsentState, Purpose
from mailer.contacts.fields import merge_values
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.suppression import Suppression, SuppressionReason
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.delivery.store import Recipient
from mailer.segments.conditions import SegmentError, compile_tree
from mailer.segments.models import Segment
from mailer.subscriptions.models.lists import Subscription

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
# What each reason means, for the people who read the counts (the admin's send page, the API's check).
REASON_LABELS = {
    "unconfirmed": lazy_gettext("Never confirmed their subscription (double opt-in pending)"),
    "unsubscribed": lazy_gettext("Unsubscribed"),
    "no_consent": lazy_gettext("No consent for this list's purpose"),
    "restricted": lazy_gettext("Processing restricted"),
    "erased": lazy_gettext("Erased"),
    "suppressed": lazy_gettext("On the suppression list"),
    "bounced": lazy_gettext("Bounced earlier"),
    "excluded_list": lazy_gettext("In an excluded list"),
    "objected": lazy_gettext("Objected to direct marketing"),
}
RANK = {reason: rank for rank, reason in enumerate(REASONS)}
CONTACTS = Contact.__table__
SUBSCRIPTIONS = Subscription.__table__
DELIVERIES = Delivery.__table__


def purpose_id(key: str) -> int | None:
    """The id of a purpose by key (e.g. direct-marketing), or None when this installation has none."""
    return db.session.execute(select(Purpose.id).where(Purpose.key == key)).scalar_one_or_none()


@dataclass
class _Sources:
    """The tables the rule reads, joined to whatever names the (contact, list) pairs being judged."""

    joined: FromClause
    subscription: Any
    list_consent: Any
    objection: Any


def _within(column: Any, bounds: tuple[int | None, int | None]) -> list:
    """after < column <= upto, for the bounds given (None: open)."""
    after, upto = bounds
    return [
        *([column > after] if after is not None else []),
        *([column <= upto] if upto is not None else []),
    ]


def _join(
    base: FromClause,
    contact_id: Any,
    list_id: Any,
    dm_id: int | None,
    subscription: Any = None,
    bounds: tuple[int | None, int | None] = (None, None),
) -> _Sources:
    """Outer-join everything the rule reads to `base`, whose columns name each pair's contact and list;
    `subscription`: the pair's subscription when `base` is that table already (not joined to itself again);
    `bounds`: the contact id range the caller keeps to, repeated on each joined table (true of every row
    that matches anyway) so PostgreSQL reads only that range of each table's index, not all of it."""
    list_consent = ConsentState.__table__.alias("list_consent")
    objection = ConsentState.__table__.alias("objection")
    list_purpose = Purpose.__table__.alias("list_purpose")
    joined = base.outerjoin(CONTACTS, and_(CONTACTS.c.id == contact_id, *_within(CONTACTS.c.id, bounds)))
    if subscription is None:
        subscription = SUBSCRIPTIONS.alias("subscription")
        joined = joined.outerjoin(
            subscription,
            and_(
                subscription.c.contact_id == contact_id,
                subscription.c.list_id == list_id,
                *_within(subscription.c.contact_id, bounds),
            ),
        )
    joined = (
        joined.outerjoin(Suppression, Suppression.email_hash == CONTACTS.c.email_hash)
        .outerjoin(list_purpose, list_purpose.c.list_id == list_id)
        .outerjoin(
            list_consent,
            and_(
                list_consent.c.contact_id == contact_id,
                list_consent.c.purpose_id == list_purpose.c.id,
                *_within(list_consent.c.contact_id, bounds),
            ),
        )
        .outerjoin(
            objection,
            and_(
                objection.c.contact_id == contact_id,
                objection.c.purpose_id == (dm_id or -1),
                *_within(objection.c.contact_id, bounds),
            ),
        )
    )
    return _Sources(joined, subscription, list_consent, objection)


def _rank(src: _Sources, campaign_id: int, contact_id: Any, dm_id: int | None) -> ColumnElement[int]:
    """THE rule: the rank of the first reason that excludes the pair, 0 when the message may go.

    Written null-safe, so a missing row (contact, subscription, consent) excludes rather than slips through.
    """
    sub_status = src.subscription.c.status
    other = SUBSCRIPTIONS.alias("excluded_sub")
    excluded = exists().where(
        other.c.contact_id == contact_id,
        other.c.status != "unsubscribed",
        other.c.list_id.in_(
            select(campaign_exclusions.c.list_id).where(campaign_exclusions.c.campaign_id == campaign_id)
        ),
    )
    return case(
        (
            or_(
                CONTACTS.c.id.is_(None),
                CONTACTS.c.status == ContactStatus.ERASED,
                func.coalesce(CONTACTS.c.email, "") == "",
            ),
            RANK["erased"],
        ),
        (CONTACTS.c.status != ContactStatus.ACTIVE, RANK["restricted"]),
        (Suppression.reason == SuppressionReason.HARD_BOUNCE, RANK["bounced"]),
        (Suppression.id.is_not(None), RANK["suppressed"]),
        (src.objection.c.status == "objected" if dm_id else literal(False), RANK["objected"]),
        (excluded, RANK["excluded_list"]),
        (sub_status == "unsubscribed", RANK["unsubscribed"]),
        (or_(sub_status.is_(None), sub_status != "confirmed"), RANK["unconfirmed"]),
        (
            or_(src.list_consent.c.status.is_(None), src.list_consent.c.status != "granted"),
            RANK["no_consent"],
        ),
        else_=0,
    )


def segment_members(campaign_id: int) -> Any:
    """The ids of the members of the campaign's segments (one select), or None when it targets none.

    A segment that no longer compiles (a list or tag it names was deleted) selects nobody: sending to fewer
    people is the safe side, and the builder shows the segment's problem.
    """
    trees = db.session.execute(
        select(Segment.tree)
        .join(campaign_segments, campaign_segments.c.segment_id == Segment.id)
        .where(campaign_segments.c.campaign_id == campaign_id)
    ).scalars()
    queries = []
    for tree in trees:
        try:
            queries.append(compile_tree(tree).query)
        except SegmentError:
            continue
    if not queries:
        return None
    return union(*queries) if len(queries) > 1 else queries[0]


@dataclass
class _Audience:
    """The (contact, list) pairs judged for a campaign, joined for the rule, and the rule's rank of each."""

    joined: FromClause
    rank: ColumnElement[int]
    contact_id: Any
    list_id: Any
    confirmed: ColumnElement[bool]  # a cheap pre-filter the rule implies (the subscription is confirmed)
    once_each: bool = False  # each contact is judged in one pair only (one list, no segment)


def _on_campaign_lists(campaign_id: int, bounds: tuple[int | None, int | None] = (None, None)) -> _Audience:
    """Every subscription on the campaign's lists (and of its segments' members), joined for the rule;
    `bounds`: the contact id range the caller keeps to (see _join)."""
    dm_id = purpose_id(DIRECT_MARKETING)
    members = segment_members(campaign_id) if _has_segments(campaign_id) else None
    if members is None:
        on_lists = SUBSCRIPTIONS.join(
            campaign_lists,
            and_(
                campaign_lists.c.list_id == SUBSCRIPTIONS.c.list_id,
                campaign_lists.c.campaign_id == campaign_id,
            ),
        )
        src = _join(
            on_lists, SUBSCRIPTIONS.c.contact_id, SUBSCRIPTIONS.c.list_id, dm_id, SUBSCRIPTIONS, bounds
        )
        rank = _rank(src, campaign_id, SUBSCRIPTIONS.c.contact_id, dm_id)
        return _Audience(
            src.joined,
            rank,
            SUBSCRIPTIONS.c.contact_id,
            SUBSCRIPTIONS.c.list_id,
            SUBSCRIPTIONS.c.status == "confirmed",
            once_each=_list_count(campaign_id) == 1,  # a contact has one subscription per list
        )
    pairs = _pairs(campaign_id, members)
    src = _join(pairs, pairs.c.contact_id, pairs.c.list_id, dm_id, bounds=bounds)
    rank = _rank(src, campaign_id, pairs.c.contact_id, dm_id)
    return _Audience(
        src.joined, rank, pairs.c.contact_id, pairs.c.list_id, src.subscription.c.status == "confirmed"
    )


def _list_count(campaign_id: int) -> int:
    return db.session.execute(
        select(func.count()).select_from(campaign_lists).where(campaign_lists.c.campaign_id == campaign_id)
    ).scalar_one()


def _has_segments(campaign_id: int) -> bool:
    return (
        db.session.execute(
            select(campaign_segments.c.segment_id)
            .where(campaign_segments.c.campaign_id == campaign_id)
            .limit(1)
        ).first()
        is not None
    )


def _pairs(campaign_id: int, members: Any) -> Any:
    """(contact, list) pairs: subscriptions on the campaign's lists, and every subscription of each segment
    member (a member on no list gets one pair with no list, which the rule excludes as unconfirmed)."""
    member = members.subquery("member")
    member_id = member.c[0]
    on_lists = select(SUBSCRIPTIONS.c.contact_id, SUBSCRIPTIONS.c.list_id).join(
        campaign_lists,
        and_(
            campaign_lists.c.list_id == SUBSCRIPTIONS.c.list_id, campaign_lists.c.campaign_id == campaign_id
        ),
    )
    of_members = select(member_id.label("contact_id"), SUBSCRIPTIONS.c.list_id).select_from(
        member.outerjoin(SUBSCRIPTIONS, SUBSCRIPTIONS.c.contact_id == member_id)
    )
    return union(on_lists, of_members).subquery("pairs")


def exclusion_counts(campaign_id: int, after: int | None = None, upto: int | None = None) -> dict:
    """{"recipients": n, "excluded": {reason: n}} over everyone on the campaign's lists (one SQL query);
    `after`/`upto`: only contacts with after < id <= upto (a background count goes through id ranges, and
    a contact's pairs all fall in one range, so the ranges' counts add up to the whole)."""
    aud = _on_campaign_lists(campaign_id, (after, upto))
    where = _within(aud.contact_id, (after, upto))
    if aud.once_each:  # every pair is a different contact: count the ranks straight away
        rows = db.session.execute(
            select(aud.rank, func.count()).select_from(aud.joined).where(*where).group_by(aud.rank)
        ).all()
    else:
        per_contact = (
            select(aud.contact_id, func.min(aud.rank).label("r"))
            .select_from(aud.joined)
            .where(*where)
            .group_by(aud.contact_id)
            .subquery()
        )
        rows = db.session.execute(select(per_contact.c.r, func.count()).group_by(per_contact.c.r)).all()
    counts: dict[int, int] = {row[0]: row[1] for row in rows}
    excluded = {reason: int(counts.get(rank_, 0)) for rank_, reason in enumerate(REASONS) if rank_}
    return {"recipients": int(counts.get(0, 0)), "excluded": excluded}


def exclusion_reasons(campaign_id: int) -> dict[int, str]:
    """{contact id: reason} as the preview counts them: the best over the campaign's lists ("" = eligible)."""
    aud = _on_campaign_lists(campaign_id)
    rows = db.session.execute(
        select(aud.contact_id, func.min(aud.rank)).select_from(aud.joined).group_by(aud.contact_id)
    )
    return {contact_id: REASONS[best] for contact_id, best in rows}


def next_page_bound(campaign_id: int, after_contact_id: int, size: int) -> int | None:
    """The highest contact id among the next `size` confirmed subscribers after the cursor (None: no more).

    Keyset paging in two steps keeps every page equally cheap at any list size: this walk of the
    (contact, list) index bounds the page, then the full rule runs within that id range only.
    """
    on_lists = (
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
    )
    members = segment_members(campaign_id) if _has_segments(campaign_id) else None
    if members is not None:
        member = members.subquery("member")
        of_members = (
            select(member.c[0].label("contact_id"))
            .where(member.c[0] > after_contact_id)
            .order_by(member.c[0])
            .limit(size)
        )
        both = union(on_lists.subquery().select(), of_members.subquery().select()).subquery()
        on_lists = select(both.c.contact_id).order_by(both.c.contact_id).limit(size)
    candidates = on_lists.subquery()
    return db.session.execute(select(func.max(candidates.c.contact_id))).scalar()


def eligible_in_range(
    campaign_id: int, after_contact_id: int, upper: int | None, unplanned: bool = False
) -> Any:
    """SELECT (contact id, list id) of each eligible contact with after < id <= upper (None: no upper bound);
    lowest list id wins. `unplanned`: only contacts with no delivery of this campaign yet (after an A/B
    test's share, the rest of the audience)."""
    aud = _on_campaign_lists(campaign_id)
    where = [aud.contact_id > after_contact_id, aud.confirmed, aud.rank == 0]
    if upper is not None:
        where.append(aud.contact_id <= upper)
    if unplanned:
        where.append(
            ~exists().where(
                DELIVERIES.c.campaign_id == campaign_id, DELIVERIES.c.contact_id == aud.contact_id
            )
        )
    return (
        select(aud.contact_id.label("contact_id"), func.min(aud.list_id).label("list_id"))
        .select_from(aud.joined)
        .where(*where)
        .group_by(aud.contact_id)
    )


def _among(column, values: set, item_type):
    """column IN values; on PostgreSQL one array parameter (`= ANY`).

    So the statement text stays the same whatever the chunk size (no per-id placeholders to render and parse,
    and the driver can reuse its prepared statement). The array travels as its text form (ids and hex hashes
    need no quoting): the driver's list dumper is per item.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    if item_type is Integer or all(value.isalnum() for value in values):
        text = "{" + ",".join(map(str, values)) + "}"
        return column == any_(cast(literal(text, String), ARRAY(item_type)))
    return column == any_(literal(sorted(values), ARRAY(item_type)))


def _merges_fields(campaign_id: int) -> bool:
    """Does the campaign's content name `contact.fields` (only then are field values read for each batch)?"""
    row = db.session.execute(
        select(Campaign.subject, Campaign.body, Campaign.text_body, Campaign.compiled_html).where(
            Campaign.id == campaign_id
        )
    ).first()
    if row is not None and any("fields" in (part or "") for part in row):
        return True
    variants = db.session.execute(  # an A/B test's variants may name fields the campaign's own text does not
        select(AbVariant.subject, AbVariant.compiled_html, AbVariant.compiled_text).where(
            AbVariant.campaign_id == campaign_id
        )
    ).all()
    return any("fields" in (part or "") for variant in variants for part in variant)


def recheck(campaign_id: int, claimed: list[tuple[int, int, int | None]]) -> list[Recipient]:
    """The rule again for claimed (delivery id, contact id, list id) rows at send time, in one query.

    Returns each recipient with its skip reason ("" = send), and what its message needs when it may go.
    """
    if not claimed:
        return []
    special = dict(
        db.session.connection()
        .execute(
            select(Purpose.key, Purpose.id).where(
                Purpose.key.in_((DIRECT_MARKETING, TRACKING_OPEN, TRACKING_CLICK))
            )
        )
        .all()
    )
    dm_id = special.get(DIRECT_MARKETING)
    src = _join(DELIVERIES, DELIVERIES.c.contact_id, DELIVERIES.c.list_id, dm_id)
    opens = ConsentState.__table__.alias("opens")
    clicks = ConsentState.__table__.alias("clicks")
    joined = src.joined.outerjoin(
        opens,
        and_(
            opens.c.contact_id == DELIVERIES.c.contact_id,
            opens.c.purpose_id == (special.get(TRACKING_OPEN) or -1),
        ),
    ).outerjoin(
        clicks,
        and_(
            clicks.c.contact_id == DELIVERIES.c.contact_id,
            clicks.c.purpose_id == (special.get(TRACKING_CLICK) or -1),
        ),
    )
    rows = db.session.connection().execute(
        select(
            DELIVERIES.c.id,
            _rank(src, campaign_id, DELIVERIES.c.contact_id, dm_id).label("rank"),
            CONTACTS.c.public_id,
            CONTACTS.c.email,
            CONTACTS.c.email_hash,
            CONTACTS.c.name,
            CONTACTS.c.attributes,
            CONTACTS.c.language,
            opens.c.status.label("opens"),
            clicks.c.status.label("clicks"),
        )
        .select_from(joined)
        .where(_among(DELIVERIES.c.id, {delivery_id for delivery_id, _, _ in claimed}, Integer))
    )
    found = {row.id: row for row in rows}
    fields = merge_values([contact_id for _, contact_id, _ in claimed]) if _merges_fields(campaign_id) else {}
    out = []
    for delivery_id, contact_id, list_id in claimed:
        rec = Recipient(delivery_id, contact_id, list_id)
        row = found.get(delivery_id)
        rec.skip_reason = REASONS[row.rank] if row is not None else "erased"
        if row is not None and not rec.skip_reason:
            rec.public_id, rec.email, rec.email_hash = row.public_id, row.email, row.email_hash
            rec.name, rec.attributes, rec.language = row.name, row.attributes, row.language
            rec.track_opens, rec.track_clicks = row.opens == "granted", row.clicks == "granted"
            rec.fields = fields.get(contact_id, {})
        out.append(rec)
    return out


def reasons_on_list(list_id: int, contact_ids: list[int]) -> dict[int, str]:
    """{contact id: reason} by the same rule for these contacts on one list ("" = may receive mail now).

    What a journey asks before each step (no campaign exclusion lists apply); a contact that is gone is
    "erased". One query.
    """
    if not contact_ids:
        return {}
    dm_id = purpose_id(DIRECT_MARKETING)
    base = (
        select(CONTACTS.c.id.label("cid")).where(_among(CONTACTS.c.id, set(contact_ids), Integer)).subquery()
    )
    src = _join(base, base.c.cid, literal(list_id), dm_id)
    rank = _rank(src, -1, base.c.cid, dm_id)
    rows = db.session.execute(select(base.c.cid, rank).select_from(src.joined)).all()
    found = {contact_id: REASONS[value] for contact_id, value in rows}
    return {contact_id: found.get(contact_id, "erased") for contact_id in contact_ids}
