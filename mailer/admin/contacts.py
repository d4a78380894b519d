"""Contacts: search, detail with subscriptions and consent history, printable double opt-in evidence."""

from flask import render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mailer.admin.blueprint import bp
from mailer.admin.forms import BulkForm, TagForm
from mailer.admin.privacy_forms import ActionForm
from mailer.bulk.operations import ACTIONS
from mailer.consent import evidence
from mailer.consent.ledger import contact_history
from mailer.consent.models import ConsentState
from mailer.contacts.models.contact import CONTACT_STATUSES, Contact
from mailer.contacts.operations import ContactPage, search_contacts
from mailer.contacts.tags import all_tags, tags_of
from mailer.core.extensions import db
from mailer.core.web import db_int
from mailer.segments.conditions import SegmentError
from mailer.segments.operations import all_segments, members_of, segment_by_public_id
from mailer.subscriptions.lists import all_lists, subscribers_of
from mailer.subscriptions.models.lists import Subscription

# What each row of the contacts page shows besides the contact: loaded for the page in one query each.
_ROW_LOADS = (selectinload(Contact.subscriptions).selectinload(Subscription.mailing_list),)


def _by_public_id(public_id: str) -> Contact:
    return db.one_or_404(select(Contact).where(Contact.public_id == public_id))


@bp.get("/contacts")
def contacts():
    """Search by part of an address or name (a whole address exactly), list, saved segment or status; keyset
    pages."""
    q = request.args.get("q", "")[:200]
    list_id = request.args.get("list", type=db_int)
    status = request.args.get("status", "")
    status = status if status in CONTACT_STATUSES else ""
    segment_id = request.args.get("segment", "")[:32]
    among = [subscribers_of(list_id)] if list_id else []
    after = request.args.get("after", "")[:32] or None
    problem, code = "", 200
    segment = segment_by_public_id(segment_id) if segment_id else None
    if segment_id and segment is None:
        problem, code = "That segment does not exist (any more). Choose another one.", 404
    elif segment is not None:
        try:
            among.append(members_of(segment))
        except SegmentError as error:
            problem, code = f"The segment “{segment.name}” cannot be used: {error}", 409
    page = (
        ContactPage([], None, 50) if problem else search_contacts(q, among, status, after, options=_ROW_LOADS)
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
    )


@bp.get("/contacts/<public_id>/evidence")
def contact_evidence(public_id: str):
    """Printable proof of double opt-in, built from the ledger (REQUIREMENTS G1)."""
    contact = _by_public_id(public_id)
    return render_template(
        "admin/contacts/evidence.html", contact=contact, records=evidence.opt_in_evidence(contact)
    )
