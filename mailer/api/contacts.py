"""Contacts: exact lookup by address, listing by keyset pages, profile, edits, consent history, leaving a
list."""

from flask import g, jsonify, request
from sqlalchemy import select

from mailer.api.blueprint import api_route
from mailer.api.errors import ApiError
from mailer.api.inputs import invalid, json_object, keyset_page, obj, page_args, refuse_unknown, string
from mailer.api.lists import list_by_public_id
from mailer.api.serializers import contact_json, contact_summary_json, event_json
from mailer.consent.ledger import RequestContext
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import CONTACT_STATUSES, Contact, ContactStatus
from mailer.contacts.operations import AddressError, find_contact_by_email, normalise_email
from mailer.core.extensions import db
from mailer.privacy import contact_edits as api_contacts
from mailer.segments.conditions import compile_tree
from mailer.segments.operations import segment_by_public_id
from mailer.subscriptions.lists import memberships, on_list
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.withdrawal import withdraw_list


def contact_by_public_id(public_id: str) -> Contact:
    """The contact with this id, or a JSON 404."""
    contact = db.session.execute(select(Contact).where(Contact.public_id == public_id)).scalar_one_or_none()
    if contact is None:
        raise ApiError(404, "There is no contact with this id.", {"contact_id": public_id[:64]})
    return contact


@api_route("/contacts")
def contacts_lookup():
    """Find a contact by exact address (through the blind index), or list contacts (optionally those on one
    list, in one saved segment, or in one status) in id order, a keyset page at a time."""
    raw = request.args.get("email")
    if raw is None:
        return _contact_listing()
    try:
        email = normalise_email(raw)
    except AddressError as exc:
        raise invalid("email", str(exc)) from None
    contact = find_contact_by_email(email)
    return jsonify(data=[contact_json(contact)] if contact is not None else [], next_cursor=None)


def _contact_listing():
    after, limit = page_args()
    query = select(Contact)
    if request.args.get("list"):
        after_id = (
            db.session.execute(select(Contact.id).where(Contact.public_id == after)).scalar() if after else 0
        )
        # From the cursor's own contact on (keyset_page finds the cursor within this query).
        query = query.where(on_list(list_by_public_id(request.args["list"]).id, (after_id or 1) - 1))
    if request.args.get("segment"):
        segment = segment_by_public_id(request.args["segment"][:64])
        if segment is None:
            raise ApiError(
                404, "There is no segment with this id.", {"segment_id": request.args["segment"][:64]}
            )
        query = query.where(Contact.id.in_(compile_tree(segment.tree).query))
    status = request.args.get("status")
    if status is not None:
        if status not in CONTACT_STATUSES:
            raise invalid("status", "must be one of: " + ", ".join(CONTACT_STATUSES))
        query = query.where(Contact.status == status)
    rows, next_cursor = keyset_page(query, Contact, Contact.public_id, after, limit)
    lists = memberships([contact.id for contact in rows])
    return jsonify(
        data=[contact_summary_json(contact, lists.get(contact.id, [])) for contact in rows],
        next_cursor=next_cursor,
    )


@api_route("/contacts/<public_id>")
def contact_show(public_id: str):
    """Profile, subscriptions and current consent of one contact."""
    return jsonify(contact_json(contact_by_public_id(public_id)))


def _read_patch() -> api_contacts.ContactPatch:
    body = json_object()
    refuse_unknown(body, {"name", "attributes", "fields"})
    if not body:
        raise ApiError(422, "Nothing to change: send at least one of name, attributes, fields.")
    name = string(body, "name", nullable=True)
    fields = obj(body, "fields") or {}
    for key, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise invalid(f"fields.{key[:60]}", "must be a string or null")
    return api_contacts.ContactPatch(
        name=("" if name is None else name) if "name" in body else None,
        attributes=obj(body, "attributes"),
        fields={key: value or "" for key, value in fields.items()},
    )


@api_route("/contacts/<public_id>", methods=("PATCH",))
def contact_update(public_id: str):
    """Change name, attributes (merged; null removes one) or
    custom fields; refused for restricted contacts."""
    contact = contact_by_public_id(public_id)
    patch = _read_patch()
    try:
        changed = api_contacts.update_contact(contact, patch, g.api_key, ip=request.remote_addr)
    except api_contacts.ContactLockedError as exc:
        raise ApiError(409, str(exc), {"status": contact.status}) from None
    except api_contacts.ContactEditError as exc:
        db.session.rollback()
        raise invalid(exc.field_name, str(exc)) from None
    return jsonify({**contact_json(contact), "changed": changed})


@api_route("/contacts/<public_id>/consent")
def contact_consent(public_id: str):
    """The contact's consent ledger, oldest event first, one page at a time."""
    contact = contact_by_public_id(public_id)
    after, limit = page_args()
    query = select(ConsentEvent).where(ConsentEvent.contact_id == contact.id)
    rows, next_cursor = keyset_page(query, ConsentEvent, ConsentEvent.hash, after, limit)
    return jsonify(data=[event_json(ev) for ev in rows], next_cursor=next_cursor)


@api_route("/contacts/<public_id>/subscriptions/<list_id>", methods=("DELETE",))
def contact_unsubscribe(public_id: str, list_id: str):
    """Unsubscribe from one list: the subscription ends and consent for it is withdrawn (one ledger event)."""
    contact = contact_by_public_id(public_id)
    mailing_list = list_by_public_id(list_id)
    if contact.status == ContactStatus.ERASED:
        raise ApiError(409, "This contact was erased: there is nothing left to change.", {"status": "erased"})
    sub = db.session.execute(
        select(Subscription).where(
            Subscription.contact_id == contact.id, Subscription.list_id == mailing_list.id
        )
    ).scalar_one_or_none()
    if sub is None:
        raise ApiError(
            404,
            "This contact has no subscription to that list.",
            {"contact_id": contact.public_id, "list_id": mailing_list.public_id},
        )
    ctx = RequestContext(source=f"api:{g.api_key_prefix}")
    changed = withdraw_list(
        contact, mailing_list, ctx, {"list": mailing_list.public_id, "api_key": g.api_key_prefix}
    )
    db.session.commit()
    db.session.refresh(sub)
    return jsonify(
        contact_id=contact.public_id, list_id=mailing_list.public_id, status=sub.status, changed=changed
    )
