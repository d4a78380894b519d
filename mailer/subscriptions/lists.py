"""Mailing lists and the purposes that go with them."""

from sqlalchemy import Select, func, select

from mailer.consent.models import Purpose
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.core.text import TextRefused, multi_line, one_line
from mailer.subscriptions.models.lists import MailingList, Subscription

TRACKING_PURPOSES = {
    "tracking:open": (
        "Open tracking",
        "tracking_open",
        "Record when I open an email (a small image in the message).",
    ),
    "tracking:click": ("Click tracking", "tracking_click", "Record which links I click in an email."),
}


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
        raise ListError("Give the list a name.")
    if len(name) > 120:
        raise ListError("The name is too long (120 characters at most).")
    if visibility not in ("public", "private"):
        raise ListError("Visibility must be public or private.")
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
    """Subscriber counts per list and status, for overview pages."""
    query = select(Subscription.list_id, Subscription.status, func.count()).group_by(
        Subscription.list_id, Subscription.status
    )
    counts: dict[int, dict[str, int]] = {}
    for list_id, status, n in db.session.execute(query):
        counts.setdefault(list_id, {})[status] = n
    return counts


def all_lists() -> list[MailingList]:
    """Every list, by name."""
    return list(db.session.execute(select(MailingList).order_by(MailingList.name)).scalars())


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
