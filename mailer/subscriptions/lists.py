"""Mailing lists and the purposes that go with them."""

from dataclasses import dataclass

from sqlalchemy import Select, delete, select, update

from mailer import audit
from mailer.consent.ledger import EventDraft, RequestContext, append_events
from mailer.consent.models import ConsentState, Purpose
from mailer.contacts.models.contact import Contact
from mailer.core import counters
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.sentences import N_, Sentence
from mailer.core.text import TextRefused, multi_line, one_line
from mailer.subscriptions.forms import refresh_notice
from mailer.subscriptions.models.forms import Form, form_lists
from mailer.subscriptions.models.lists import MailingList, Subscription, SubscriptionStatus
from mailer.subscriptions.withdrawal import withdraws

TRACKING_PURPOSES = {
    "tracking:open": (
        "Open tracking",
        "tracking_open",
        "Record when I open an email (a small image in the message).",
    ),
    "tracking:click": ("Click tracking", "tracking_click", "Record which links I click in an email."),
}


# Refusals (English for the API; admin pages show them translated through core.sentences).
NO_NAME = Sentence(N_("Give the list a name."))
NAME_TOO_LONG = Sentence(N_("The name is too long (120 characters at most)."))
BAD_VISIBILITY = Sentence(N_("Visibility must be public or private."))


class ListError(ValueError):
    """A list could not be saved; the message says why."""


def _clean(name: str, description: str, visibility: str) -> tuple[str, str, str]:
    """Validate list fields."""
    try:
        name = one_line(name, "The list's name")  # shown in emails' text and subjects
        description = multi_line(description, "The description").strip()[:5000]
    except TextRefused as exc:
        raise ListError(str(exc)) from None
    if not name:
        raise ListError(NO_NAME())
    if len(name) > 120:
        raise ListError(NAME_TOO_LONG())
    if visibility not in ("public", "private"):
        raise ListError(BAD_VISIBILITY())
    return name, description, visibility


def create_list(name: str, description: str = "", visibility: str = "public") -> MailingList:
    """Create a list and its consent purpose; the caller commits."""
    name, description, visibility = _clean(name, description, visibility)
    mailing_list = MailingList(name=name, description=description, visibility=visibility)
    db.session.add(mailing_list)
    db.session.flush()
    db.session.add(
        Purpose(
            key=f"list:{mailing_list.public_id}",
            name=name,
            description=description or f"Emails from the list “{name}”.",
            kind="list",
            list_id=mailing_list.id,
        )
    )
    db.session.flush()
    return mailing_list


def update_list(mailing_list: MailingList, name: str, description: str, visibility: str) -> MailingList:
    """Rename or re-describe a list, keeping its purpose in step; the caller commits."""
    mailing_list.name, mailing_list.description, mailing_list.visibility = _clean(
        name, description, visibility
    )
    if mailing_list.purpose is not None:
        mailing_list.purpose.name = mailing_list.name
        mailing_list.purpose.description = (
            mailing_list.description or f"Emails from the list “{mailing_list.name}”."
        )
    return mailing_list


def ensure_tracking_purposes() -> list[Purpose]:
    """Create the built-in open/click tracking purposes if missing."""
    purposes = []
    for key, (name, kind, description) in TRACKING_PURPOSES.items():
        purpose = db.session.execute(select(Purpose).where(Purpose.key == key)).scalar_one_or_none()
        if purpose is None:
            purpose = Purpose(key=key, name=name, kind=kind, description=description)
            db.session.add(purpose)
            db.session.flush()
        purposes.append(purpose)
    return purposes


def list_counts() -> dict[int, dict[str, int]]:
    """Subscriber counts per list and status, for overview pages (the counter table, core/counters.py)."""
    counts: dict[int, dict[str, int]] = {}
    for (list_id, status), n in counters.totals("subscription_counts").items():
        counts.setdefault(list_id, {})[status] = n
    return counts


def all_lists() -> list[MailingList]:
    """Every list that is not deleted (archived ones included), by name."""
    query = select(MailingList).where(MailingList.deleted_at.is_(None)).order_by(MailingList.name)
    return list(db.session.execute(query).scalars())


def active_lists() -> list[MailingList]:
    """The lists that are not archived, by name: the ones a new campaign or form may offer."""
    query = select(MailingList).where(MailingList.archived_at.is_(None)).order_by(MailingList.name)
    return list(db.session.execute(query).scalars())


@dataclass
class ArchiveSummary:
    """What archiving (or un-archiving) a list changes, for the confirm page."""

    mailing_list: MailingList
    confirmed: int
    pending: int
    forms: list[Form]  # the forms that offer the list
    closing: list[Form]  # the forms that offer no other list: they stop taking sign-ups while it is archived


def archive_summary(mailing_list: MailingList) -> ArchiveSummary:
    """Count the people and name the forms an archive of this list affects."""
    counts = list_counts().get(mailing_list.id, {})
    forms = list(
        db.session.execute(
            select(Form)
            .join(form_lists, form_lists.c.form_id == Form.id)
            .where(form_lists.c.list_id == mailing_list.id, Form.deleted_at.is_(None))
            .order_by(Form.name)
        ).scalars()
    )
    closing = [
        form
        for form in forms
        if all(lst.archived_at is not None or lst is mailing_list for lst in form.lists)
    ]
    return ArchiveSummary(mailing_list, counts.get("confirmed", 0), counts.get("pending", 0), forms, closing)


def _set_archived(
    mailing_list: MailingList, archived: bool, actor: object, ip: str | None, via: dict | None = None
) -> ArchiveSummary:
    summary = archive_summary(mailing_list)
    mailing_list.archived_at = utcnow() if archived else None
    db.session.flush()
    for form in summary.forms:
        refresh_notice(form)  # the form's notice now lists what the page shows
    audit.record(
        "list.archived" if archived else "list.unarchived",
        "mailing_list",
        mailing_list.public_id,
        {
            "confirmed": summary.confirmed,
            "pending": summary.pending,
            "forms": [form.public_id for form in summary.forms],
            "forms_closed" if archived else "forms_reopened": [form.public_id for form in summary.closing],
            **(via or {}),
        },
        actor=actor,
        ip=ip,
    )
    return summary


def archive_list(
    mailing_list: MailingList, actor: object = None, ip: str | None = None, via: dict | None = None
) -> ArchiveSummary:
    """Archive a list: it leaves every preference centre and form and can't be chosen for a new campaign; its
    subscriptions and history stay. Audited; the caller commits."""
    if mailing_list.archived_at is not None:
        raise ListError("This list is already archived.")
    return _set_archived(mailing_list, True, actor, ip, via)


def unarchive_list(
    mailing_list: MailingList, actor: object = None, ip: str | None = None, via: dict | None = None
) -> ArchiveSummary:
    """Bring an archived list back where it was offered before. Audited; the caller commits."""
    if mailing_list.archived_at is None:
        raise ListError("This list is not archived.")
    return _set_archived(mailing_list, False, actor, ip, via)


def lists_by_public_id(public_ids: list[str]) -> dict[str, MailingList]:
    """The lists with these public ids, by public id (unknown ids are absent)."""
    query = select(MailingList).where(MailingList.public_id.in_(public_ids))
    return {mailing_list.public_id: mailing_list for mailing_list in db.session.execute(query).scalars()}


def on_list(list_id: int, after_id: int = 0):
    """The condition "the contact is on this list, in any state", correlated to contacts. `after_id`: a keyset
    page's start, repeated on the subscriptions' side so that PostgreSQL's merge join starts there too instead
    of reading the list's subscriptions from the first one on every page."""
    return (
        select(Subscription.id)
        .where(
            Subscription.contact_id == Contact.id,
            Subscription.list_id == list_id,
            Subscription.contact_id > after_id,
        )
        .exists()
    )


def memberships(contact_ids: list[int]) -> dict[int, list[tuple[MailingList, str]]]:
    """The lists of these contacts with the subscription's state, in one query."""
    query = (
        select(Subscription.contact_id, MailingList, Subscription.status)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .where(Subscription.contact_id.in_(contact_ids))
        .order_by(MailingList.name)
    )
    found: dict[int, list[tuple[MailingList, str]]] = {}
    for contact_id, mailing_list, status in db.session.execute(query):
        found.setdefault(contact_id, []).append((mailing_list, status))
    return found


def subscribers_of(list_id: int) -> Select:
    """The ids of the contacts on a list in any state (for narrowing a contact search)."""
    return select(Subscription.contact_id).where(Subscription.list_id == list_id)


DELETE_BATCH = 500


@dataclass
class DeleteSummary:
    """What deleting a list changes, for the confirm page."""

    mailing_list: MailingList
    confirmed: int
    pending: int
    unsubscribed: int
    forms: list[Form]
    closing: list[Form]  # forms left with no list that takes sign-ups: they answer "closed"
    campaigns: int  # campaigns that targeted or excluded it: their history stays


def delete_summary(mailing_list: MailingList, campaigns: int = 0) -> DeleteSummary:
    """Count the people, forms and campaigns a deletion of this list affects (`campaigns` from the caller,
    which may read campaigns)."""
    archive = archive_summary(mailing_list)
    counts = list_counts().get(mailing_list.id, {})
    return DeleteSummary(
        mailing_list,
        archive.confirmed,
        archive.pending,
        counts.get("unsubscribed", 0),
        archive.forms,
        archive.closing,
        campaigns,
    )


def end_batch(
    mailing_list: MailingList, after_id: int, ctx: RequestContext, details: dict, size: int = DELETE_BATCH
) -> tuple[int, int] | None:
    """End the next batch of the list's open subscriptions (ids above `after_id`) and append one "withdrawn"
    event per person whose list consent was granted or pending (or whose subscription this ended): the last
    subscription id and how many ended, or None when none were left. The caller commits the batch together
    with its progress, so a restart neither repeats nor skips a subscription (an ended one is never read
    again: only open subscriptions are)."""
    rows = db.session.execute(
        select(Subscription.id, Subscription.contact_id, Contact.email)
        .join(Contact, Contact.id == Subscription.contact_id)
        .where(
            Subscription.list_id == mailing_list.id,
            Subscription.status != SubscriptionStatus.UNSUBSCRIBED,
            Subscription.id > after_id,
        )
        .order_by(Subscription.id)
        .limit(size)
        .with_for_update(of=Subscription)
    ).all()
    if not rows:
        return None
    db.session.execute(
        update(Subscription)
        .where(Subscription.id.in_([row.id for row in rows]))
        .values(status=SubscriptionStatus.UNSUBSCRIBED, unsubscribed_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    purpose = mailing_list.purpose
    if purpose is not None:
        states = dict(
            db.session.execute(
                select(ConsentState.contact_id, ConsentState.status)
                .where(
                    ConsentState.purpose_id == purpose.id,
                    ConsentState.contact_id.in_([row.contact_id for row in rows]),
                )
                .with_for_update()
            ).all()
        )
        drafts = [
            EventDraft(row.contact_id, row.email, purpose.id, "withdrawn", ctx, None, details)
            for row in sorted(rows, key=lambda row: row.contact_id)
            if withdraws(states.get(row.contact_id), ended=True)
        ]
        append_events(db.session.connection(), drafts)
    return rows[-1].id, len(rows)


def deletion_context(mailing_list: MailingList, actor_id: int | None, ip: str | None) -> tuple:
    """The ledger's door and the details of every "withdrawn" event of a list's deletion."""
    ctx = RequestContext(f"admin:staff-{actor_id or 'unknown'}", ip)
    return ctx, {"reason": "list-deleted", "list": mailing_list.public_id}


def begin_delete(mailing_list: MailingList, typed_name: str) -> DeleteSummary:
    """Start deleting a list after its name was typed. At once (in the caller's transaction): it is marked
    deleted (and archived), so it takes no sign-ups, leaves every form (their notices are published again),
    preference centre and campaign choice, and no send can name it. Its open subscriptions are then ended
    in batches (end_batch, by a background job) and finish_delete() records the tombstone's audit entry."""
    if mailing_list.deleted_at is not None:
        raise ListError("This list is already deleted.")
    if " ".join(typed_name.split()) != mailing_list.name:
        raise ListError(f"Type the list's name, “{mailing_list.name}”, to delete it.")
    summary = delete_summary(mailing_list)
    now = utcnow()
    mailing_list.archived_at = mailing_list.archived_at or now
    mailing_list.deleted_at = now
    db.session.execute(delete(form_lists).where(form_lists.c.list_id == mailing_list.id))
    db.session.flush()
    for form in summary.forms:
        db.session.refresh(form, ["lists"])
        refresh_notice(form)
    return summary


def summary_details(summary: DeleteSummary) -> dict:
    """What the tombstone's audit entry says of a deletion, kept from its start."""
    return {
        "name": summary.mailing_list.name,
        "confirmed": summary.confirmed,
        "pending": summary.pending,
        "forms": [form.public_id for form in summary.forms],
        "forms_closed": [form.public_id for form in summary.closing],
    }


def finish_delete(
    mailing_list: MailingList, details: dict, actor: object = None, ip: str | None = None
) -> None:
    """Every subscription has ended: the audit entry of the deletion (the caller commits)."""
    audit.record("list.deleted", "mailing_list", mailing_list.public_id, details, actor=actor, ip=ip)


def delete_list(
    mailing_list: MailingList,
    typed_name: str,
    actor: object = None,
    ip: str | None = None,
    via: dict | None = None,
) -> DeleteSummary:
    """Delete a list in one transaction, all or nothing (for small lists and the CLI; the admin and the API
    start a background job instead, mailer.bulk): every open subscription ends with a "withdrawn" ledger
    event (reason list-deleted; the contacts stay), it leaves every form and everything else, and stays as a
    tombstone so the ledger and campaign history still name it. Audited; the caller commits."""
    summary = begin_delete(mailing_list, typed_name)
    ctx, details = deletion_context(mailing_list, getattr(actor, "id", None), ip)
    after = 0
    while (ended := end_batch(mailing_list, after, ctx, details)) is not None:
        after = ended[0]
    finish_delete(mailing_list, {**summary_details(summary), **(via or {})}, actor, ip)
    return summary
