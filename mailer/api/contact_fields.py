"""Custom contact fields through the API: list, get, define, retire and restore (what Settings → Fields does).

A field is named by its key (e.g. `plan`), which is also how contact values, segments and merge tags name it.
The rules are mailer.contacts.fields' (the admin's): key shape, label, category, type and choices, Art. 10
refusal of criminal-record fields, and a sensitive field's own explicit-consent purpose. A field is never
deleted (its values stay until erased): it is retired from forms and views, and can be brought back.
"""

from flask import g, request
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from mailer import audit
from mailer.api.errors import ApiError
from mailer.api.fields import REQUIRED, Flag, RequestSchema, Text, TextList, page_of, timestamp
from mailer.api.inputs import PageQuery, invalid, paged
from mailer.api.routing import api_route
from mailer.api.schemas import one_of
from mailer.api.serializers import iso
from mailer.contacts import fields as field_service
from mailer.contacts.models.fields import FIELD_CATEGORIES, QUASI_IDENTIFIERS, VALUE_TYPES, ContactField
from mailer.core.extensions import db

KEY_HELP = "Lower-case letters, digits and underscores, starting with a letter (at most 60)."
CHOICES_HELP = "The answers of a single_choice or multiple_choice field (2–50, each at most 100 characters)."


class FieldQuery(PageQuery):
    retired = Text(
        load_default="false",
        validate=validate.OneOf(["true", "false", "all"], error="must be true, false or all"),
        metadata={"description": "`true` for the retired fields only, `all` for every field."},
    )


class FieldCreate(RequestSchema):
    """A new custom field: key, label and category are required."""

    key = Text(required=True, max_length=60, metadata={"description": KEY_HELP})
    label = Text(required=True, max_length=120)
    category = Text(
        required=True,
        validate=validate.OneOf(FIELD_CATEGORIES, error="must be one of: " + ", ".join(FIELD_CATEGORIES)),
        metadata={
            "description": "`sensitive` (Art. 9 data) is stored encrypted, masked everywhere, and collected "
            "only with explicit consent to the field's own purpose.",
        },
    )
    type = Text(
        load_default="text",
        validate=validate.OneOf(VALUE_TYPES, error="must be one of: " + ", ".join(VALUE_TYPES)),
        metadata={"description": "Default: text."},
    )
    choices = TextList(max_items=field_service.MAX_CHOICES, metadata={"description": CHOICES_HELP})
    help_text = Text(multiline=True, max_length=2000)
    quasi_identifier = Text(
        load_default="",
        validate=validate.OneOf(
            QUASI_IDENTIFIERS, error="must be one of: postcode, birth_date, gender or empty"
        ),
        metadata={
            "description": "What erasure coarsens or removes: postcode, birth_date, gender (empty: none).",
        },
    )


class FieldPatch(RequestSchema):
    active = Flag(
        required=True,
        metadata={
            "description": "false retires the field from forms and views (its values stay); true "
            "brings it back."
        },
    )


class ContactFieldSchema(Schema):
    key = fields.String()
    label = fields.String()
    category = one_of(FIELD_CATEGORIES)
    type = one_of(VALUE_TYPES)
    choices = fields.List(fields.String())
    help_text = fields.String()
    quasi_identifier = one_of(QUASI_IDENTIFIERS)
    active = fields.Boolean()
    purpose_id = fields.String(
        allow_none=True,
        metadata={"description": "A sensitive field's explicit-consent purpose (public id); null otherwise."},
    )
    created_at = timestamp()


ContactFieldPageSchema = page_of(ContactFieldSchema, "ContactFieldPage")


def field_json(field: ContactField) -> dict:
    return {
        "key": field.key,
        "label": field.label,
        "category": field.category,
        "type": field.value_type,
        "choices": list(field.choices or []),
        "help_text": field.help_text or "",
        "quasi_identifier": field.quasi_identifier or "",
        "active": field.active,
        "purpose_id": field.purpose.public_id if field.purpose is not None else None,
        "created_at": iso(field.created_at),
    }


def _field(key: str) -> ContactField:
    field = field_service.field_by_key(key[:60])
    if field is None:
        raise ApiError(404, "There is no custom field with this key.", {"key": key[:64]})
    return field


def _audit(field: ContactField, details: dict) -> None:
    audit.record(
        "settings.field",
        "field",
        field.key,
        {**details, "via": "api", "api_key": g.api_key_prefix},
        ip=request.remote_addr,
    )


@api_route("/fields", query=FieldQuery, responses={200: ContactFieldPageSchema}, operation_id="listFields")
def fields_index(query: dict):
    """Custom contact fields

    The active ones (`retired=true`: the retired ones; `all`: both), oldest first, one page at a time;
    `after` is a field's key.
    """
    rows = select(ContactField)
    if query["retired"] != "all":
        rows = rows.where(ContactField.active.is_(query["retired"] == "false"))
    return paged(query, rows, ContactField, ContactField.key, field_json)


@api_route(
    "/fields",
    ("POST",),
    body=FieldCreate,
    responses={201: ContactFieldSchema},
    errors={409: "A field with this key already exists."},
    operation_id="createField",
)
def field_create(body: dict):
    """Define a custom contact field

    The admin's rules: a 422 names the input that is wrong (`key`, `label`, `category`, `type`, `choices`,
    `quasi_identifier`); criminal-record data (Art. 10 GDPR) is refused; a sensitive field gets its own
    explicit-consent purpose. Choice fields need `choices`. Audited.
    """
    if body["type"] in ("single_choice", "multiple_choice") and not body.get("choices"):
        raise invalid("choices", REQUIRED + " for a choice field")
    try:
        field = field_service.define_field(
            body["key"],
            body["label"],
            body["category"],
            body.get("help_text", ""),
            body["quasi_identifier"],
            body["type"],
            body.get("choices"),
        )
    except field_service.FieldDefinitionError as exc:
        db.session.rollback()
        if exc.taken:
            raise ApiError(409, str(exc), {"key": body["key"].strip().lower()[:60]}) from None
        raise invalid(exc.field_name, str(exc)) from None
    _audit(field, {"category": field.category, "created": True})
    db.session.commit()
    return field_json(field), 201


@api_route(
    "/fields/<key>",
    responses={200: ContactFieldSchema},
    parameters={"key": "The field's key."},
    operation_id="getField",
)
def field_show(key: str):
    """One custom contact field"""
    return field_json(_field(key))


@api_route(
    "/fields/<key>",
    ("PATCH",),
    body=FieldPatch,
    responses={200: ContactFieldSchema},
    parameters={"key": "The field's key."},
    operation_id="updateField",
)
def field_update(key: str, body: dict):
    """Retire a custom field, or bring it back

    `{"active": false}` retires it from forms and views (its values stay until erased); `true` restores it.
    Audited when it changes.
    """
    field = _field(key)
    if field.active != body["active"]:
        field.active = body["active"]
        _audit(field, {"active": field.active})
        db.session.commit()
    return field_json(field)
