"""Changing contacts through the API beyond a PATCH: add one by hand (on a stated consent basis or by sending
a double opt-in), tag and untag, erase; and the tags in use.

Each goes through the admin's own operation (subscriptions.manual.add_contact, contacts.tags, the privacy
erasure), so the ledger, the suppression list, journeys started by a tag and the audit log see an API change
exactly as they see a staff one, with the key's prefix in place of the staff member.
"""

from flask import g, request
from marshmallow import Schema, fields, validate

from mailer.api.contacts import contact_by_public_id
from mailer.api.errors import ApiError
from mailer.api.fields import Object, RequestSchema, Text, TextList
from mailer.api.inputs import invalid
from mailer.api.routing import api_route
from mailer.api.schemas import ContactSchema
from mailer.api.serializers import contact_json
from mailer.api.subscriptions import checked_lists
from mailer.contacts import tags
from mailer.contacts.models.contact import ContactStatus
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.privacy.fulfil import erase_on_integration_request
from mailer.subscriptions import manual
from mailer.subscriptions.operations import Basis

BASES = (Basis.PRIOR_CONSENT.value, Basis.DOUBLE_OPT_IN.value)
MAX_TAGS_PER_CALL = 20


class ContactCreate(RequestSchema):
    """A contact added by hand, as on the admin's Add contact page."""

    email = Text(required=True, max_length=320)
    name = Text(max_length=200)
    lists = TextList(required=True, min_items=1, max_items=20, metadata={"description": "Lists' public ids."})
    basis = Text(
        required=True,
        validate=validate.OneOf(BASES, error="must be has_consent or double_opt_in"),
        metadata={
            "description": "`has_consent`: the person consented elsewhere and `statement` says where and how "
            "(stored as the proof, subscribed at once); `double_opt_in`: they are sent a confirmation email "
            "and subscribed once they confirm."
        },
    )
    statement = Text(
        multiline=True,
        max_length=manual.MAX_STATEMENT_LENGTH,
        metadata={"description": "Where and how the person consented (at least 20 characters; has_consent)."},
    )
    field_values = Object(
        data_key="fields",
        metadata={
            "description": "Ordinary custom fields by key (sensitive ones need the person's own consent, "
            "so they are refused here).",
            "maxProperties": 50,
            "additionalProperties": {"type": "string"},
        },
    )


class ContactAddedSchema(ContactSchema):
    invited = fields.Boolean(metadata={"description": "A double opt-in email is on its way."})
    granted_lists = fields.List(
        fields.String(), metadata={"description": "Lists the contact is subscribed to now (has_consent)."}
    )


class TagChange(RequestSchema):
    """Tags to put on and to take off (by name, any letter case; a new name creates the tag)."""

    add = TextList(max_items=MAX_TAGS_PER_CALL)
    remove = TextList(max_items=MAX_TAGS_PER_CALL)


class TagsResultSchema(Schema):
    contact_id = fields.String()
    tags = fields.List(fields.String(), metadata={"description": "The contact's tags now, by name."})
    added = fields.List(fields.String(), metadata={"description": "Tags that were not on it before."})
    removed = fields.List(fields.String(), metadata={"description": "Tags that were on it and are not now."})


class EraseRequest(RequestSchema):
    reason = Text(max_length=200, metadata={"description": "Why, for the erasure register (optional)."})


class ErasedSchema(Schema):
    contact_id = fields.String()
    status = fields.String()
    request_id = fields.String(
        metadata={
            "description": "The completed erasure request in the privacy register (its recipients to "
            "notify are listed there)."
        }
    )


class TagSchema(Schema):
    name = fields.String()
    contacts = fields.Integer(metadata={"description": "How many contacts carry it."})


class TagListSchema(Schema):
    data = fields.List(fields.Nested(TagSchema), required=True)


def _via() -> dict:
    return {"via": "api", "api_key": g.api_key_prefix}


@api_route(
    "/contacts",
    ("POST",),
    body=ContactCreate,
    responses={201: ContactAddedSchema},
    errors={409: "A contact with this address exists already (`detail.contact_id` names it)."},
    operation_id="createContact",
)
def contact_create(body: dict):
    """Add a contact by hand, on a stated consent basis or by double opt-in

    As the admin's Add contact page: `has_consent` needs a `statement` of where and how the person
    consented (a "granted" ledger event per list with it as the proof); `double_opt_in` sends the
    confirmation email and subscribes them once they confirm. Suppressed addresses are refused (only the
    person can come back, by signing up again). 422 names the input; audited with the key's prefix.
    """
    new = manual.NewContact(
        email=body["email"],
        name=body.get("name", ""),
        lists=checked_lists(body["lists"]),
        basis=Basis(body["basis"]),
        statement=body.get("statement", ""),
        values={},
    )
    for key, value in (body.get("field_values") or {}).items():
        if not isinstance(value, str):
            raise invalid(f"fields.{key[:60]}", "must be a string")
        if value.strip():
            new.values[key] = value
    try:
        added = manual.add_contact(
            new, None, request.remote_addr, source=f"api:{g.api_key_prefix}", via=_via()
        )
    except manual.ContactExists as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"contact_id": exc.contact.public_id}) from None
    except manual.ContactRefused as exc:
        db.session.rollback()
        raise invalid(exc.field_name or "body", str(exc)) from None
    return {
        **contact_json(added.contact),
        "invited": added.invited,
        "granted_lists": [lst.public_id for lst in added.granted],
    }, 201


def _tag_names(contact_id: int) -> list[str]:
    return [tag.name for tag in tags.tags_of([contact_id]).get(contact_id, [])]


@api_route(
    "/contacts/<public_id>/tags",
    ("POST",),
    body=TagChange,
    responses={200: TagsResultSchema},
    errors={409: "The contact was erased."},
    operation_id="changeContactTags",
)
def contact_tags(public_id: str, body: dict):
    """Tag and untag a contact

    `add` puts tags on (a new name creates the tag; a journey that starts on that tag starts), `remove`
    takes them off; names match in any letter case. Repeating a call changes nothing. Each change audited.
    """
    contact = contact_by_public_id(public_id)
    if contact.status == ContactStatus.ERASED:
        raise ApiError(409, "This contact was erased: there is nothing left to tag.", {"status": "erased"})
    if not body.get("add") and not body.get("remove"):
        raise ApiError(422, "Nothing to change: send tags to add, to remove, or both.")
    before = set(_tag_names(contact.id))
    ip = request.remote_addr
    for name in body.get("add") or []:
        try:
            tags.add_tag(contact, name, None, ip=ip, via=_via())
        except tags.TagError as exc:
            db.session.rollback()
            raise invalid("add", str(exc)) from None
    for name in body.get("remove") or []:
        tag = tags.tag_by_name(" ".join(name.split()))
        if tag is not None:
            tags.remove_tag(contact, tag, None, ip=ip, via=_via())
    db.session.commit()
    now = _tag_names(contact.id)
    return {
        "contact_id": contact.public_id,
        "tags": now,
        "added": [name for name in now if name not in before],
        "removed": sorted(before - set(now), key=str.casefold),
    }


@api_route(
    "/contacts/<public_id>/erase",
    ("POST",),
    body=EraseRequest,
    responses={200: ErasedSchema},
    errors={409: "The contact was erased already."},
    operation_id="eraseContact",
)
def contact_erase(public_id: str, body: dict):
    """Erase a contact (right to erasure, Art. 17 GDPR): anonymise it, cannot be undone

    The admin's erasure: the address, name, fields and tracking are anonymised everywhere, the ledger keeps
    an "erased" event, the address's keyed hash is suppressed so no import or API call re-adds it, and an
    erasure request on the "api" channel is completed in the privacy register (listing the recipients to
    notify). Audited with the key's prefix. Send `{}` or a `reason`.
    """
    contact = contact_by_public_id(public_id)
    if contact.status == ContactStatus.ERASED:
        raise ApiError(409, "This contact has already been erased.", {"status": "erased"})
    try:
        req = erase_on_integration_request(
            contact, g.api_key_prefix, ip=request.remote_addr, reason=body.get("reason", "")
        )
    except PrivacyError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"status": contact.status}) from None
    db.session.commit()
    return {"contact_id": contact.public_id, "status": contact.status, "request_id": req.public_id}


class TagQuery(RequestSchema):
    q = Text(max_length=60, metadata={"description": "Only tags whose name contains this (any letter case)."})


@api_route("/tags", query=TagQuery, responses={200: TagListSchema}, operation_id="listTags")
def tags_index(query: dict):
    """Every tag, with how many contacts carry it

    By name, all at once (as the admin's tag picker shows them); `q` narrows them by part of the name.
    Contacts with a tag: `GET /contacts?tag=<name>`.
    """
    part = " ".join(query.get("q", "").split()).casefold()
    return {
        "data": [
            {"name": tag.name, "contacts": count}
            for tag, count in tags.all_tags()
            if part in tag.name.casefold()
        ]
    }
