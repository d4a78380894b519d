"""Sign-up forms through the API, as in the admin: list, show, create, change (a new immutable notice version
when the wording changes), the wording in other languages, publish/unpublish, archive, delete, and the
copy-paste snippet with the hosted page's and the embed script's URLs.

Every rule is mailer.subscriptions.forms' (the admin's form pages call the same operations): the slug, at
least one active list, sensitive fields only beside their explicit-consent checkbox, the minimum age, the
redirect and after-confirm addresses (full http(s) URLs, as the admin requires), the languages and their
wording. Archive, unarchive and delete are audited as in the admin.
"""

from flask import current_app, g, request
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from mailer.api.errors import ApiError
from mailer.api.fields import (
    Flag,
    Object,
    Part,
    RequestSchema,
    Text,
    TextList,
    page_of,
    public_id,
    timestamp,
)
from mailer.api.inputs import PageQuery, ids_of, invalid, paged
from mailer.api.routing import api_route
from mailer.api.schemas import ListRefSchema, PurposeSchema, one_of
from mailer.api.serializers import iso, purpose_json
from mailer.consent.models import Purpose
from mailer.consent.notices import notice_versions
from mailer.contacts import fields as field_service
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.subscriptions import forms as form_service
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import MailingList

LANGUAGE_HELP = "One of " + ", ".join(i18n.LANGUAGES) + "."
LANGUAGE = validate.OneOf(i18n.LANGUAGES, error="must be one of " + ", ".join(i18n.LANGUAGES))
LABELS_HELP = (
    "The words beside each consent checkbox, by purpose key (e.g. `list:…`, `tracking_click`); a purpose "
    "left out shows the built-in wording."
)


def _long_text(limit: int, what: str = "") -> Text:
    """A long text whose length the forms' rules check (a 422 saying so): not declared as a maxLength, so
    the document stays true that every body is at most API_MAX_BODY_BYTES (32 KiB by default)."""
    return Text(multiline=True, metadata={"description": f"{what}At most {limit:,} characters.".strip()})


class FormFieldWrite(RequestSchema):
    key = Text(required=True, max_length=60, metadata={"description": "A custom contact field's key."})
    label = Text(max_length=200, metadata={"description": "Its label on this form (default: the field's)."})
    required = Flag()


def _labels(max_items: int = 40) -> Object:
    return Object(
        values=Text(max_length=300),
        validate=validate.Length(max=max_items, error=f"at most {max_items} labels"),
        metadata={"description": LABELS_HELP, "maxProperties": max_items},
    )


class FormWrite(RequestSchema):
    """A form's settings and its own wording; on PATCH, only what changes. A body is at most
    API_MAX_BODY_BYTES (32 KiB by default), whatever the lengths below allow."""

    slug = Text(max_length=60, metadata={"description": "Its address: /f/<slug> (a-z, 0-9, hyphens)."})
    name = Text(max_length=120, metadata={"description": "For staff only."})
    title = Text(max_length=200)
    intro = _long_text(5000)
    button_label = Text(max_length=60)
    lists = TextList(max_items=50, metadata={"description": "Public ids of the lists it offers."})
    purposes = TextList(
        max_items=20,
        metadata={"description": "Public ids of other purposes it asks consent for (e.g. click tracking)."},
    )
    labels = _labels()
    ask_name = Flag()
    require_name = Flag()
    min_age = fields.Integer(
        allow_none=True,
        strict=True,
        validate=validate.Range(min=13, max=21, error="must be from 13 to 21, or null"),
        metadata={"description": "Ask people to confirm this age (13–21); null: no age question."},
    )
    privacy_text = _long_text(5000)
    allowed_origins = TextList(
        max_items=20,
        metadata={"description": "Sites that may embed it, e.g. https://www.example.com; empty: any."},
    )
    success_message = _long_text(2000, "Shown after signing up. ")
    redirect_url = Text(max_length=500, metadata={"description": "A full http(s) URL, or empty."})
    after_confirm_url = Text(
        max_length=500,
        metadata={"description": "Where confirming sends people: a full http(s) URL, or empty (our page)."},
    )
    language = Text(
        max_length=10,
        metadata={"description": "Always show this published language; empty: follow the browser."},
    )
    wording_language = Text(validate=LANGUAGE, metadata={"description": "The language of this wording."})
    languages = TextList(
        max_items=len(i18n.LANGUAGES),
        metadata={"description": "Published languages (each needs its wording: PUT …/languages/{language})."},
    )
    active = Flag(metadata={"description": "false: the form is offline (its page answers 404)."})
    fields_ = fields.List(
        Part(FormFieldWrite),
        data_key="fields",
        validate=validate.Length(max=form_service.MAX_FORM_FIELDS, error="at most 20 fields"),
        metadata={"description": "Custom fields it asks for, in order."},
    )


class FormCreate(FormWrite):
    slug = Text(required=True, max_length=60, metadata={"description": "Its address: /f/<slug>."})
    name = Text(required=True, max_length=120, metadata={"description": "For staff only."})
    lists = TextList(
        required=True,
        min_items=1,
        max_items=50,
        metadata={"description": "Public ids of the lists it offers."},
    )


class WordingWrite(RequestSchema):
    """A form's words in another language."""

    title = Text(required=True, max_length=200)
    button_label = Text(required=True, max_length=60)
    intro = _long_text(5000)
    privacy_text = _long_text(5000)
    success_message = _long_text(2000, "Shown after signing up. ")
    labels = _labels()
    field_labels = Object(
        values=Text(max_length=200),
        validate=validate.Length(max=20, error="at most 20 labels"),
        metadata={
            "description": "Custom fields' labels in this language, by field key.",
            "maxProperties": 20,
        },
    )
    publish = Flag(metadata={"description": "Offer the form in this language (default true)."})


class FormQuery(PageQuery):
    archived = Text(
        load_default="false",
        validate=validate.OneOf(["true", "false"], error="must be true or false"),
        metadata={"description": "`true` for the archived forms (which take no sign-ups)."},
    )


class SnippetQuery(RequestSchema):
    language = Text(
        validate=LANGUAGE,
        metadata={"description": "For a form that follows the browser: which published language."},
    )


class NoticeVersionSchema(Schema):
    version = fields.Integer()
    content_hash = fields.String()
    created_at = timestamp()


class FormWordingSchema(Schema):
    language = fields.String()
    own = fields.Boolean(metadata={"description": "true: the form's own wording (changed by PATCH)."})
    published = fields.Boolean()
    title = fields.String()
    intro = fields.String()
    button_label = fields.String()
    privacy_text = fields.String()
    success_message = fields.String()
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    field_labels = fields.Dict(keys=fields.String(), values=fields.String())
    notice_versions = fields.List(
        fields.Nested(NoticeVersionSchema),
        metadata={"description": "Every version people may have agreed to, newest first (immutable)."},
    )


class FormFieldSchema(Schema):
    key = fields.String()
    label = fields.String()
    required = fields.Boolean()


class FormSchema(Schema):
    id = public_id()
    slug = fields.String()
    name = fields.String()
    status = one_of(("active", "inactive", "archived", "deleted"))
    accepts_signups = fields.Boolean()
    title = fields.String()
    intro = fields.String()
    button_label = fields.String()
    lists = fields.List(fields.Nested(ListRefSchema))
    purposes = fields.List(fields.Nested(PurposeSchema), metadata={"description": "Besides the lists'."})
    labels = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": LABELS_HELP})
    ask_name = fields.Boolean()
    require_name = fields.Boolean()
    min_age = fields.Integer(allow_none=True)
    privacy_text = fields.String()
    allowed_origins = fields.List(fields.String())
    success_message = fields.String()
    redirect_url = fields.String()
    after_confirm_url = fields.String()
    language = fields.String()
    wording_language = fields.String()
    languages = fields.List(fields.String(), metadata={"description": "Published languages."})
    active = fields.Boolean()
    fields_ = fields.List(fields.Nested(FormFieldSchema), data_key="fields", attribute="fields")
    hosted_url = fields.String(metadata={"description": "The hosted sign-up page."})
    script_url = fields.String(metadata={"description": "The embed script the snippet loads."})
    snippet_url = fields.String(metadata={"description": "Where this API gives the copy-paste HTML."})
    wordings = fields.List(fields.Nested(FormWordingSchema))
    created_at = timestamp()
    updated_at = timestamp()
    archived_at = timestamp()


class SnippetSchema(Schema):
    language = fields.String()
    html = fields.String(metadata={"description": "Paste it where the form should appear."})
    hosted_url = fields.String()
    script_url = fields.String()


FormPageSchema = page_of(FormSchema, "FormPage")
ERRORS_422 = "A value is not valid, or a rule of forms refuses it; `detail` says which."


def _status(form: Form) -> str:
    if form.deleted_at is not None:
        return "deleted"
    if form.archived_at is not None:
        return "archived"
    return "active" if form.active else "inactive"


def _urls(form: Form) -> dict:
    base = current_app.config["MAILER_BASE_URL"].rstrip("/")
    prefix = current_app.extensions.get("mailer.api_prefix", "")
    return {
        "hosted_url": f"{base}/f/{form.slug}",
        "script_url": f"{base}/static/embed.js",
        "snippet_url": f"{base}{prefix}/forms/{form.public_id}/snippet",
    }


def _wording_json(form: Form, language: str, published: list[str]) -> dict:
    wording = form_service.wording_for(form, language)
    return {
        "language": language,
        "own": language == form.wording_language,
        "published": language in published,
        "title": wording.title,
        "intro": wording.intro,
        "button_label": wording.button_label,
        "privacy_text": wording.privacy_text,
        "success_message": wording.success_message,
        "labels": wording.labels,
        "field_labels": wording.field_labels,
        "notice_versions": [
            {"version": n.version, "content_hash": n.content_hash, "created_at": iso(n.created_at)}
            for n in notice_versions(form_service.notice_key(form, language))
        ],
    }


def form_json(form: Form, full: bool = True) -> dict:
    published = form_service.published_languages(form)
    data = {
        "id": form.public_id,
        "slug": form.slug,
        "name": form.name,
        "status": _status(form),
        "accepts_signups": form.active and form_service.accepts_signups(form),
        "title": form.title,
        "intro": form.intro,
        "button_label": form.button_label,
        "lists": [{"id": lst.public_id, "name": lst.name} for lst in form.lists],
        "purposes": [purpose_json(p) for p in form.purposes],
        "labels": dict(form.labels or {}),
        "ask_name": form.ask_name,
        "require_name": form.require_name,
        "min_age": form.min_age,
        "privacy_text": form.privacy_text,
        "allowed_origins": form.origins,
        "success_message": form.success_message,
        "redirect_url": form.redirect_url,
        "after_confirm_url": form.after_confirm_url,
        "language": form.language,
        "wording_language": form.wording_language,
        "languages": published,
        "active": form.active,
        "fields": [
            {"key": ff.field.key, "label": ff.shown_label, "required": ff.required} for ff in form.fields
        ],
        **_urls(form),
        "created_at": iso(form.created_at),
        "updated_at": iso(form.updated_at),
        "archived_at": iso(form.archived_at),
    }
    if full:
        languages = [form.wording_language, *(row.language for row in form.wordings)]
        data["wordings"] = [_wording_json(form, code, published) for code in languages]
    return data


def _form(public_id: str, deleted: bool = False) -> Form:
    """A form by its public id (a deleted one only when asked: it can no longer be changed)."""
    form = db.session.execute(select(Form).where(Form.public_id == public_id[:32])).scalar_one_or_none()
    if form is None or (form.deleted_at is not None and not deleted):
        raise ApiError(404, "There is no form with this id.", {"form_id": public_id[:64]})
    return form


def _field_settings(items: list[dict]) -> list[form_service.FieldSetting]:
    chosen = []
    for position, item in enumerate(items):
        custom = field_service.field_by_key(item["key"])
        if custom is None or not custom.active:
            raise invalid(f"fields.{position}.key", "no active custom field has this key")
        chosen.append(
            form_service.FieldSetting(custom.id, item.get("label", ""), item.get("required", False))
        )
    return chosen


def _settings(body: dict, base: form_service.FormSettings) -> form_service.FormSettings:
    """The form's settings as they are, with what the caller sent."""
    for name in (
        "slug",
        "name",
        "title",
        "intro",
        "button_label",
        "labels",
        "ask_name",
        "require_name",
        "min_age",
        "privacy_text",
        "success_message",
        "redirect_url",
        "after_confirm_url",
        "language",
        "wording_language",
        "languages",
        "active",
    ):
        if name in body:
            setattr(base, name, body[name])
    if "allowed_origins" in body:
        base.allowed_origins = "\n".join(body["allowed_origins"])
    if "lists" in body:
        base.list_ids = ids_of(MailingList, body["lists"], "lists")
    if "purposes" in body:
        base.purpose_ids = ids_of(Purpose, body["purposes"], "purposes")
    if "fields_" in body:
        base.fields = _field_settings(body["fields_"])
    return base


def _save(settings: form_service.FormSettings, form: Form | None) -> Form:
    clash = db.session.execute(
        select(Form.public_id).where(Form.slug == (settings.slug or "").strip().lower())
    ).scalar_one_or_none()
    if clash is not None and (form is None or clash != form.public_id):
        raise ApiError(409, "Another form already uses that slug.", {"form_id": clash})
    try:
        saved = form_service.save_form(settings, form, None, request.remote_addr, _via())
    except form_service.FormError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), {"form": str(exc)}) from None
    db.session.commit()
    return saved


@api_route("/forms", query=FormQuery, responses={200: FormPageSchema}, operation_id="listForms")
def forms_index(query: dict):
    """Sign-up forms

    The forms in use (or, with `archived=true`, the archived ones), oldest first; deleted forms are listed
    nowhere. Without their wording versions (GET /forms/{public_id} has them).
    """
    archived = query["archived"] == "true"
    where = Form.archived_at.is_not(None) if archived else Form.archived_at.is_(None)
    rows = select(Form).where(where, Form.deleted_at.is_(None))
    return paged(query, rows, Form, Form.public_id, lambda form: form_json(form, full=False))


@api_route(
    "/forms",
    ("POST",),
    body=FormCreate,
    responses={201: FormSchema},
    errors={
        409: "Another form already uses this slug (`detail.form_id` names it: a repeated request finds its "
        "form there).",
        422: ERRORS_422,
    },
    operation_id="createForm",
)
def form_create(body: dict):
    """Create a sign-up form

    The admin's rules and defaults (title “Subscribe to our newsletter”, button “Subscribe”, our privacy
    text, English wording, active). Its wording is published as version 1 of the form's notice. The slug
    is unique, so repeating a create answers 409 naming the form made the first time.
    """
    form = _save(_settings(body, form_service.FormSettings(slug="", name="")), None)
    return form_json(form), 201


@api_route("/forms/<public_id>", responses={200: FormSchema}, operation_id="getForm")
def form_show(public_id: str):
    """One sign-up form, with its wording in each language and their notice versions"""
    return form_json(_form(public_id, deleted=True))


@api_route(
    "/forms/<public_id>",
    ("PATCH",),
    body=FormWrite,
    responses={200: FormSchema},
    errors={409: "Another form already uses this slug.", 422: ERRORS_422},
    operation_id="updateForm",
)
def form_update(public_id: str, body: dict):
    """Change a sign-up form

    Fields left out stay as they are. When what the form shows changes, its notice gets a new version (the
    earlier ones stay, as the evidence of what people agreed to); its other languages' notices too when a
    checkbox or field they show changed.
    """
    form = _form(public_id)
    if not body:
        raise ApiError(422, "Nothing to change: send at least one field.")
    return form_json(_save(_settings(body, form_service.settings_of(form)), form))


@api_route(
    "/forms/<public_id>/languages/<language>",
    ("PUT",),
    body=WordingWrite,
    responses={200: FormSchema},
    parameters={"language": "A language other than the form's own wording's: " + LANGUAGE_HELP},
    errors={422: ERRORS_422},
    operation_id="putFormWording",
)
def form_wording(public_id: str, language: str, body: dict):
    """Write a form's wording in another language

    Publishes that language's notice version (a new one when the words changed); `publish: false` keeps
    the words but withdraws the language from the form.
    """
    form = _form(public_id)
    if i18n.supported(language) is None:
        raise ApiError(404, "There is no such language.", {"language": language[:10]})
    settings = form_service.WordingSettings(
        title=body["title"],
        intro=body.get("intro", ""),
        button_label=body["button_label"],
        privacy_text=body.get("privacy_text", ""),
        success_message=body.get("success_message", ""),
        labels=body.get("labels", {}),
        field_labels=body.get("field_labels", {}),
        publish=body.get("publish", True),
    )
    try:
        form_service.save_wording(form, language, settings, None, request.remote_addr, _via())
    except form_service.FormError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), {"form": str(exc)}) from None
    db.session.commit()
    return form_json(form)


def _set_active(public_id: str, active: bool) -> dict:
    form = _form(public_id)
    if form.active != active:
        settings = form_service.settings_of(form)
        settings.active = active
        form = _save(settings, form)
    return form_json(form)


@api_route(
    "/forms/<public_id>/publish",
    ("POST",),
    responses={200: FormSchema},
    errors={422: ERRORS_422},
    operation_id="publishForm",
)
def form_publish(public_id: str):
    """Put a form online

    Its hosted page and snippet take sign-ups again (an archived form stays closed until un-archived).
    """
    return _set_active(public_id, True)


@api_route(
    "/forms/<public_id>/unpublish",
    ("POST",),
    responses={200: FormSchema},
    errors={422: ERRORS_422},
    operation_id="unpublishForm",
)
def form_unpublish(public_id: str):
    """Take a form offline

    Its hosted page answers 404 and its snippet takes no sign-ups; its settings and wording stay.
    """
    return _set_active(public_id, False)


def _via() -> dict:
    """How an API change is named in the audit log: the API and the key's prefix."""
    return {"via": "api", "api_key": g.api_key_prefix}


def _change(public_id: str, change) -> Form:
    """Archive, unarchive or delete: the admin's operation, audited with the API key named."""
    form = _form(public_id)
    try:
        change(form, None, request.remote_addr, _via())
    except form_service.FormError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"status": _status(form)}) from None
    db.session.commit()
    return form


@api_route(
    "/forms/<public_id>/archive",
    ("POST",),
    responses={200: FormSchema},
    errors={409: "The form is already archived."},
    operation_id="archiveForm",
)
def form_archive(public_id: str):
    """Archive a form

    It takes no sign-ups (its page and snippet answer that sign-ups are closed) and leaves the default
    listing; its settings and wording versions stay. Audited.
    """
    return form_json(_change(public_id, form_service.archive_form))


@api_route(
    "/forms/<public_id>/unarchive",
    ("POST",),
    responses={200: FormSchema},
    errors={409: "The form is not archived."},
    operation_id="unarchiveForm",
)
def form_unarchive(public_id: str):
    """Bring an archived form back

    It takes sign-ups again. Audited.
    """
    return form_json(_change(public_id, form_service.unarchive_form))


@api_route("/forms/<public_id>", ("DELETE",), responses={204: None}, operation_id="deleteForm")
def form_delete(public_id: str):
    """Delete a form

    A tombstone: it takes no sign-ups and is listed nowhere, its slug still answering that sign-ups are
    closed; the wording versions people saw and the evidence of past sign-ups stay (GET still shows it).
    Audited.
    """
    _change(public_id, form_service.delete_form)
    return None, 204


@api_route(
    "/forms/<public_id>/snippet",
    query=SnippetQuery,
    responses={200: SnippetSchema},
    operation_id="getFormSnippet",
)
def form_snippet(public_id: str, query: dict):
    """A form's copy-paste HTML

    The same snippet as the admin's form page: it works without JavaScript, and its script line adds inline
    messages. It speaks one language (the form's fixed one, or `language` among its published ones) and
    posts it, so a sign-up records the notice version of the words the person read.
    """
    form = _form(public_id)
    language = form_service.snippet_language(form, query.get("language"))
    base = current_app.config["MAILER_BASE_URL"].rstrip("/")
    urls = _urls(form)
    return {
        "language": language,
        "html": form_service.snippet_html(form, language, base),
        "hosted_url": urls["hosted_url"],
        "script_url": urls["script_url"],
    }
