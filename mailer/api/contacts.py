"""Contacts: exact lookup by address, listing by keyset pages, profile, edits, consent history, leaving a
list."""

from flask import g, request
from marshmallow import validate
from sqlalchemy import select

from mailer.api.errors import ApiError
from mailer.api.fields import Object, RequestSchema, Text
from mailer.api.inputs import PageQuery, invalid, keyset_page, page_args, paged
from mailer.api.lists import list_by_public_id
from mailer.api.routing import api_route, respond
from mailer.api.schemas import (
    ConsentEventPageSchema,
    ContactChangedSchema,
    ContactPageSchema,
    ContactSchema,
    ContactSummaryPageSchema,
    UnsubscribeResultSchema,
)
from mailer.api.serializers import contact_json, contact_summary_json, event_json
from mailer.consent.ledger import RequestContext
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import CONTACT_STATUSES, Contact, ContactStatus
from mailer.contacts.models.tags import ContactTag
from mailer.contacts.operations import AddressError, find_contact_by_email, normalise_email, search_filter
from mailer.contacts.tags import tag_by_name, tags_of
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


class ContactQuery(PageQuery):
    email = Text(metadata={"description": "An exact address to look up (the other parameters are ignored)."})
    list = Text(metadata={"description": "Only contacts on this list (in any subscription state)."})
    segment = Text(metadata={"description": "Only contacts in this saved segment (as it matches now)."})
    tag = Text(max_length=60, metadata={"description": "Only contacts with this tag (its name, any case)."})
    q = Text(
        max_length=200,
        metadata={
            "description": "Only contacts matching this text: part of an address or name, or a public id (a "
            "whole address matches exactly), as the admin's contact search."
        },
    )
    status = Text(
        validate=validate.OneOf(CONTACT_STATUSES, error="must be one of: " + ", ".join(CONTACT_STATUSES))
    )


class ContactPatch(RequestSchema):
    """Send at least one of name, attributes, fields."""

    name = Text(allow_none=True, metadata={"maxLength": 200})
    attributes = Object(
        metadata={
            "description": "Merged into the contact's attributes; a null value removes one.",
            "maxProperties": 50,
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
        }
    )
    field_values = Object(
        data_key="fields",
        metadata={
            "description": "Custom contact fields by key (empty or null clears). Sensitive fields need the "
            "person's granted consent.",
            "additionalProperties": {"type": ["string", "null"]},
        },
    )


@api_route(
    "/contacts",
    query=ContactQuery,
    responses={200: {"anyOf": [ContactSummaryPageSchema, ContactPageSchema]}},
    errors={404: "The list, segment or tag named does not exist."},
    operation_id="listContacts",
)
def contacts_lookup(query: dict):
    """List contacts (on a list, in a segment, with a tag, in a status, matching a search), or look one up by
    exact email address

    Without `email`: contacts in the order they were added, a keyset page at a time (pass `next_cursor` as
    `after`, or as `cursor`); each with its lists, without custom fields or consent (`GET /contacts/{id}` has
    them). With `email`: the contact with exactly this address (zero or one, through the blind index).
    """
    if "email" not in query:
        return respond(ContactSummaryPageSchema, _contact_listing(query))
    try:
        email = normalise_email(query["email"])
    except AddressError as exc:
        raise invalid("email", str(exc)) from None
    contact = find_contact_by_email(email)
    page = {"data": [contact_json(contact)] if contact is not None else [], "next_cursor": None}
    return respond(ContactPageSchema, page)


def _contact_listing(args: dict) -> dict:
    after, limit = page_args(args)
    query = select(Contact)
    if args.get("list"):
        after_id = (
            db.session.execute(select(Contact.id).where(Contact.public_id == after)).scalar() if after else 0
        )
        # From the cursor's own contact on (keyset_page finds the cursor within this query).
        query = query.where(on_list(list_by_public_id(args["list"]).id, (after_id or 1) - 1))
    if args.get("segment"):
        segment = segment_by_public_id(args["segment"][:64])
        if segment is None:
            raise ApiError(404, "There is no segment with this id.", {"segment_id": args["segment"][:64]})
        query = query.where(Contact.id.in_(compile_tree(segment.tree).query))
    if "status" in args:
        query = query.where(Contact.status == args["status"])
    if "tag" in args:
        tag = tag_by_name(" ".join(args["tag"].split()))
        if tag is None:
            raise ApiError(404, "There is no tag with this name.", {"tag": args["tag"][:60]})
        query = query.where(Contact.id.in_(select(ContactTag.contact_id).where(ContactTag.tag_id == tag.id)))
    if (args.get("q") or "").strip():
        query = query.where(search_filter(args["q"]))
    rows, next_cursor = keyset_page(query, Contact, Contact.public_id, after, limit)
    lists = memberships([contact.id for contact in rows])
    tagged = tags_of([contact.id for contact in rows])
    return {
        "data": [
            contact_summary_json(contact, lists.get(contact.id, []), tagged.get(contact.id, []))
            for contact in rows
        ],
        "next_cursor": next_cursor,
    }


@api_route(
    "/contacts/<public_id>",
    responses={200: ContactSchema},
    operation_id="getContact",
)
def contact_show(public_id: str):
    """A contact's profile, subscriptions and consent

    Sensitive fields are masked.
    """
    return contact_json(contact_by_public_id(public_id))


def _read_patch(body: dict) -> api_contacts.ContactPatch:
    if not body:
        raise ApiError(422, "Nothing to change: send at least one of name, attributes, fields.")
    fields = body.get("field_values") or {}
    for key, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise invalid(f"fields.{key[:60]}", "must be a string or null")
    return api_contacts.ContactPatch(
        name=(body["name"] or "") if "name" in body else None,
        attributes=body.get("attributes"),
        fields={key: value or "" for key, value in fields.items()},
    )


@api_route(
    "/contacts/<public_id>",
    ("PATCH",),
    body=ContactPatch,
    responses={200: ContactChangedSchema},
    errors={409: "The contact is restricted (Art. 18 GDPR) or erased and cannot be changed through the API."},
    operation_id="updateContact",
)
def contact_update(public_id: str, body: dict):
    """Change name, attributes or custom fields

    Attributes are merged (null removes one). Audited. Refused for restricted or erased contacts.
    """
    contact = contact_by_public_id(public_id)
    patch = _read_patch(body)
    try:
        changed = api_contacts.update_contact(contact, patch, g.api_key, ip=request.remote_addr)
    except api_contacts.ContactLockedError as exc:
        raise ApiError(409, str(exc), {"status": contact.status}) from None
    except api_contacts.ContactEditError as exc:
        db.session.rollback()
        raise invalid(exc.field_name, str(exc)) from None
    return {**contact_json(contact), "changed": changed}


@api_route(
    "/contacts/<public_id>/consent",
    query=PageQuery,
    responses={200: ConsentEventPageSchema},
    operation_id="getContactConsent",
)
def contact_consent(public_id: str, query: dict):
    """The contact's consent ledger, oldest first

    One page of ledger events at a time.
    """
    contact = contact_by_public_id(public_id)
    events = select(ConsentEvent).where(ConsentEvent.contact_id == contact.id)
    return paged(query, events, ConsentEvent, ConsentEvent.hash, event_json)


@api_route(
    "/contacts/<public_id>/subscriptions/<list_id>",
    ("DELETE",),
    responses={200: UnsubscribeResultSchema},
    errors={409: "The contact was erased: there is nothing left to change."},
    parameters={"list_id": "The list's public id."},
    operation_id="unsubscribeContact",
)
def contact_unsubscribe(public_id: str, list_id: str):
    """Unsubscribe a contact from one list

    Ends the subscription and withdraws consent for the list (one ledger event). Repeating it changes nothing.
    """
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
    return {
        "contact_id": contact.public_id,
        "list_id": mailing_list.public_id,
        "status": sub.status,
        "changed": changed,
    }
