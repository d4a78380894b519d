"""Contacts: search, detail with subscriptions and consent history, printable double opt-in evidence."""

from dataclasses import dataclass, field

from flask import render_template, request
from flask_babel import gettext
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from mailer.admin.blueprint import bp
from mailer.admin.forms import BulkForm, TagForm
from mailer.admin.privacy_forms import ActionForm
from mailer.bulk.operations import ACTIONS
from mailer.consent import evidence
from mailer.consent.ledger import contact_history
from mailer.consent.models import ConsentState
from mailer.contacts.models.contact import CONTACT_STATUSES, Contact
from mailer.contacts.operations import ContactPage, matching_contacts, search_contacts
from mailer.contacts.tags import all_tags, tags_of
from mailer.core.extensions import db
from mailer.core.web import db_int
from mailer.journeys import queries as journey_queries
from mailer.segments.conditions import SegmentError
from mailer.segments.models import Segment
from mailer.segments.operations import all_segments, members_of, segment_by_public_id
from mailer.subscriptions.lists import all_lists, subscribers_of
from mailer.subscriptions.models.lists import Subscription

# What each row of the contacts page shows besides the contact: loaded for the page in one query each.
_ROW_LOADS = (selectinload(Contact.subscriptions).selectinload(Subscription.mailing_list),)


def _by_public_id(public_id: str) -> Contact:
    return db.one_or_404(select(Contact).where(Contact.public_id == public_id))


@dataclass
class Search:
    """The contacts page's search and filters, read from a request (the page's query string, or the hidden
    fields of an "all matching" bulk action, named with `prefix`)."""

    q: str
    list_id: int | None
    status: str
    segment: Segment | None
    among: list[Select] = field(default_factory=list)
    problem: str = ""
    code: int = 200

    @property
    def narrowed(self) -> bool:
        return bool(self.q or self.list_id or self.segment or self.status)

    def matching(self) -> Select:
        """The ids of every contact the search matches, all pages."""
        return matching_contacts(self.q, self.among, self.status)

    def described(self) -> str:
        """The search in words, without what was typed (it may be someone's address)."""
        parts = (["a text search"] if self.q.strip() else []) + (
            [f"list “{lst.name}”" for lst in all_lists() if lst.id == self.list_id]
            + ([f"segment “{self.segment.name}”"] if self.segment else [])
            + ([f"status {self.status}"] if self.status else [])
        )
        return "every contact matching " + ", ".join(parts) if parts else "every contact"


def read_search(args: MultiDict, prefix: str = "") -> Search:
    """The search a request asks for; `problem` says why it cannot be used (an unknown or broken segment)."""
    status = args.get(f"{prefix}status", "")
    list_id = args.get(f"{prefix}list", type=db_int)
    segment_id = args.get(f"{prefix}segment", "")[:32]
    segment = segment_by_public_id(segment_id) if segment_id else None
    search = Search(
        q=args.get(f"{prefix}q", "")[:200],
        list_id=list_id,
        status=status if status in CONTACT_STATUSES else "",
        segment=segment,
        among=[subscribers_of(list_id)] if list_id else [],
    )
    if segment_id and segment is None:
        search.problem = gettext("That segment does not exist (any more). Choose another one.")
        search.code = 404
    elif segment is not None:
        try:
            search.among.append(members_of(segment))
        except SegmentError as error:
            search.problem = gettext(
                "The segment “%(segment)s” cannot be used: %(error)s", segment=segment.name, error=error
            )
            search.code = 409
    return search


@bp.get("/contacts")
def contacts():
    """Search by part of an address or name (a whole address exactly), list, saved segment or status; keyset
    pages."""
    search = read_search(request.args)
    q, list_id, status, segment = search.q, search.list_id, search.status, search.segment
    after = request.args.get("after", "")[:32] or None
    problem, code = search.problem, search.code
    page = (
        ContactPage([], None, 50)
        if problem
        else search_contacts(q, search.among, status, after, options=_ROW_LOADS)
    )
    return render_template(
        "admin/contacts/index.html",
        page=page,
        q=q,
        after=after,
        list_id=list_id,
        status=status,
        segment_id=segment.public_id if segment else "",
        segments=all_segments(),
        search=search,
        problem=problem,
        bulk_form=BulkForm(),
        bulk_actions=ACTIONS,
        lists=all_lists(),
        tags=tags_of([c.id for c in page.items]),
    ), code


@bp.get("/contacts/<public_id>")
def contact_show(public_id: str):
    """One contact: subscriptions, current consent per purpose and the full ledger history."""
    contact = _by_public_id(public_id)
    states = (
        db.session.execute(select(ConsentState).where(ConsentState.contact_id == contact.id)).scalars().all()
    )
    return render_template(
        "admin/contacts/show.html",
        contact=contact,
        states=states,
        history=contact_history(contact),
        tags=tags_of([contact.id]).get(contact.id, []),
        known_tags=[tag for tag, _ in all_tags()],
        tag_form=TagForm(),
        action_form=ActionForm(),
        journey_paths=journey_queries.contact_paths(contact.id),
    )


@bp.get("/contacts/<public_id>/evidence")
def contact_evidence(public_id: str):
    """Printable proof of double opt-in and of re-confirmations, built from the ledger (REQUIREMENTS G1)."""
    contact = _by_public_id(public_id)
    return render_template(
        "admin/contacts/evidence.html",
        contact=contact,
        records=evidence.opt_in_evidence(contact),
        reconfirmations=evidence.reconfirmation_evidence(contact),
    )
