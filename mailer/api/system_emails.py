"""System emails through the API, as in the admin's editor: a form's confirmation (double opt-in) email and a
list's re-confirmation email, per language: read, write, reset to the built-in wording, and preview.

Every rule is mailer.subscriptions.system_emails' (the admin's editor calls the same operations): plain text
with merge tags only (no links, addresses, HTML or other template code), the lengths, the languages the
owner offers (a form's published ones, every language for a list). Changes are audited as in the admin, with
the API key named; a preview stores and sends nothing.
"""

from collections.abc import Callable

from flask import g, request
from marshmallow import Schema, fields

from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text
from mailer.api.forms import _form
from mailer.api.lists import list_by_public_id
from mailer.api.routing import api_route
from mailer.api.serializers import iso
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.subscriptions import system_emails
from mailer.subscriptions.confirmation import preview_confirmation
from mailer.subscriptions.reconfirmation import preview_reconfirmation

Previewer = Callable[..., system_emails.Preview]
LANGUAGE_HELP = (
    "One of the languages the email is offered in: a form's published languages, any of "
    + ", ".join(i18n.LANGUAGES)
    + " for a list."
)
REFUSED = (
    "The words are refused (a link, a web or email address, HTML, template code other than the merge tags, "
    "an empty or too long part); `detail` names each part and line."
)


class EmailWrite(RequestSchema):
    """The words of a system email; our template adds the button's link, the link's lifetime, the right to
    object and the organisation's name and postal address."""

    subject = Text(
        required=True,
        max_length=system_emails.MAX_SUBJECT,
        metadata={"description": "Plain text with merge tags, e.g. `{{ organisation }}`."},
    )
    body = Text(
        required=True,
        multiline=True,
        max_length=system_emails.MAX_BODY,
        metadata={
            "description": "Plain text with merge tags and `{% if tag %}…{% endif %}`; a blank line starts "
            f"a paragraph; at most {system_emails.MAX_BODY_LINES} lines."
        },
    )
    button_label = Text(required=True, max_length=system_emails.MAX_BUTTON)


class EmailPreviewWrite(EmailWrite):
    """Words to preview; a part left out is the one in use."""

    subject = Text(max_length=system_emails.MAX_SUBJECT)
    body = Text(multiline=True, max_length=system_emails.MAX_BODY)
    button_label = Text(max_length=system_emails.MAX_BUTTON)


class SystemEmailSchema(Schema):
    kind = fields.String(metadata={"description": "confirmation (a form's) or reconfirmation (a list's)."})
    language = fields.String()
    edited = fields.Boolean(metadata={"description": "false: the built-in, translated wording is used."})
    version = fields.String(
        metadata={
            "description": "What the ledger records for each email sent: the words' SHA-256, or built-in."
        }
    )
    subject = fields.String()
    body = fields.String()
    button_label = fields.String()
    merge_tags = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "Each merge tag it may use."}
    )
    updated_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class SystemEmailListSchema(Schema):
    data = fields.List(fields.Nested(SystemEmailSchema), required=True)


class EmailPreviewSchema(Schema):
    subject = fields.String()
    html = fields.String()
    text = fields.String()


def _email_json(owner: system_emails.Owner, language: str) -> dict:
    row = system_emails.edited(owner, language)
    text = system_emails.current_text(owner, language)
    kind = system_emails.kind_of(owner)
    return {
        "kind": str(kind),
        "language": language,
        "edited": row is not None,
        "version": row.content_hash if row is not None else "built-in",
        "subject": text.subject,
        "body": text.body,
        "button_label": text.button_label,
        "merge_tags": {tag: str(what) for tag, what in system_emails.merge_tags(kind).items()},
        "updated_at": iso(row.updated_at) if row is not None else None,
    }


def _offered(owner: system_emails.Owner, language: str) -> system_emails.Owner:
    if language not in system_emails.languages_of(owner):
        raise ApiError(
            404,
            "This email is not offered in that language: "
            + ", ".join(system_emails.languages_of(owner))
            + ".",
            {"language": language[:10]},
        )
    return owner


def _refused(exc: system_emails.EmailRefused) -> ApiError:
    db.session.rollback()
    return ApiError(422, str(exc), {field: " ".join(messages) for field, messages in exc.errors.items()})


def _via() -> dict:
    """What the audit entry adds: the change came through the API, with this key."""
    return {"via": "api", "api_key": g.api_key_prefix}


def _save(owner: system_emails.Owner, language: str, body: dict) -> dict:
    text = system_emails.EmailText(body["subject"], body["body"], body["button_label"])
    try:
        system_emails.save(_offered(owner, language), language, text, None, request.remote_addr, _via())
    except system_emails.EmailRefused as exc:
        raise _refused(exc) from None
    db.session.commit()
    return _email_json(owner, language)


def _reset(owner: system_emails.Owner, language: str) -> dict:
    system_emails.reset(_offered(owner, language), language, None, request.remote_addr, _via())
    db.session.commit()
    return _email_json(owner, language)


def _preview(owner: system_emails.Owner, language: str, body: dict, previewer: Previewer) -> dict:
    current = system_emails.current_text(_offered(owner, language), language)
    text = system_emails.EmailText(
        body.get("subject", current.subject),
        body.get("body", current.body),
        body.get("button_label", current.button_label),
    )
    try:
        system_emails.clean(text, system_emails.kind_of(owner))
        shown = previewer(owner, language, text)
    except system_emails.EmailRefused as exc:
        raise _refused(exc) from None
    finally:
        db.session.rollback()  # nothing from a preview is ever stored
    return {"subject": shown.subject, "html": shown.html, "text": shown.text}


# --- a form's confirmation email ----------------------------------------------------------------------------

FORM_EMAIL = "/forms/<public_id>/emails/confirmation"


@api_route(FORM_EMAIL, responses={200: SystemEmailListSchema}, operation_id="listFormConfirmationEmails")
def form_confirmation_emails(public_id: str):
    """A form's confirmation email in each of its languages

    The double opt-in email people receive after signing up through this form, in each language the form
    is published in: the edited words, or the built-in wording.
    """
    form = _form(public_id)
    return {"data": [_email_json(form, code) for code in system_emails.languages_of(form)]}


@api_route(
    f"{FORM_EMAIL}/<language>",
    responses={200: SystemEmailSchema},
    parameters={"language": LANGUAGE_HELP},
    operation_id="getFormConfirmationEmail",
)
def form_confirmation_email(public_id: str, language: str):
    """A form's confirmation email in one language"""
    form = _form(public_id)
    return _email_json(_offered(form, language), language)


@api_route(
    f"{FORM_EMAIL}/<language>",
    ("PUT",),
    body=EmailWrite,
    responses={200: SystemEmailSchema},
    parameters={"language": LANGUAGE_HELP},
    errors={422: REFUSED},
    operation_id="putFormConfirmationEmail",
)
def form_confirmation_email_put(public_id: str, language: str, body: dict):
    """Write a form's confirmation email in one language

    The next sign-up through the form in that language receives these words (the ledger records their
    version with each email sent). Audited.
    """
    return _save(_form(public_id), language, body)


@api_route(
    f"{FORM_EMAIL}/<language>",
    ("DELETE",),
    responses={200: SystemEmailSchema},
    parameters={"language": LANGUAGE_HELP},
    operation_id="resetFormConfirmationEmail",
)
def form_confirmation_email_reset(public_id: str, language: str):
    """Reset a form's confirmation email to the built-in wording

    In that language; audited when there were edited words. Answers the email now in use.
    """
    return _reset(_form(public_id), language)


@api_route(
    f"{FORM_EMAIL}/<language>/preview",
    ("POST",),
    body=EmailPreviewWrite,
    responses={200: EmailPreviewSchema},
    parameters={"language": LANGUAGE_HELP},
    errors={422: REFUSED},
    operation_id="previewFormConfirmationEmail",
    idempotent=False,
)
def form_confirmation_email_preview(public_id: str, language: str, body: dict):
    """Preview a form's confirmation email

    Rendered for a sample person as it would be sent (subject, HTML and text), with the words given (a part
    left out: the one in use). Nothing is stored or sent; read-only keys may call it.
    """
    return _preview(_form(public_id), language, body, preview_confirmation)


# --- a list's re-confirmation email -------------------------------------------------------------------------

LIST_EMAIL = "/lists/<public_id>/emails/reconfirmation"


@api_route(LIST_EMAIL, responses={200: SystemEmailListSchema}, operation_id="listListReconfirmationEmails")
def list_reconfirmation_emails(public_id: str):
    """A list's re-confirmation email in each language

    The email that asks the list's subscribers whether they still want it (a re-permission request), in
    each language (subscribers read their own): the edited words, or the built-in wording.
    """
    mailing_list = list_by_public_id(public_id)
    return {"data": [_email_json(mailing_list, code) for code in system_emails.languages_of(mailing_list)]}


@api_route(
    f"{LIST_EMAIL}/<language>",
    responses={200: SystemEmailSchema},
    parameters={"language": LANGUAGE_HELP},
    operation_id="getListReconfirmationEmail",
)
def list_reconfirmation_email(public_id: str, language: str):
    """A list's re-confirmation email in one language"""
    mailing_list = list_by_public_id(public_id)
    return _email_json(_offered(mailing_list, language), language)


@api_route(
    f"{LIST_EMAIL}/<language>",
    ("PUT",),
    body=EmailWrite,
    responses={200: SystemEmailSchema},
    parameters={"language": LANGUAGE_HELP},
    errors={422: REFUSED},
    operation_id="putListReconfirmationEmail",
)
def list_reconfirmation_email_put(public_id: str, language: str, body: dict):
    """Write a list's re-confirmation email in one language

    The next re-confirmation requests to subscribers who read that language use these words. Audited.
    """
    return _save(list_by_public_id(public_id), language, body)


@api_route(
    f"{LIST_EMAIL}/<language>",
    ("DELETE",),
    responses={200: SystemEmailSchema},
    parameters={"language": LANGUAGE_HELP},
    operation_id="resetListReconfirmationEmail",
)
def list_reconfirmation_email_reset(public_id: str, language: str):
    """Reset a list's re-confirmation email to the built-in wording

    In that language; audited when there were edited words. Answers the email now in use.
    """
    return _reset(list_by_public_id(public_id), language)


@api_route(
    f"{LIST_EMAIL}/<language>/preview",
    ("POST",),
    body=EmailPreviewWrite,
    responses={200: EmailPreviewSchema},
    parameters={"language": LANGUAGE_HELP},
    errors={422: REFUSED},
    operation_id="previewListReconfirmationEmail",
    idempotent=False,
)
def list_reconfirmation_email_preview(public_id: str, language: str, body: dict):
    """Preview a list's re-confirmation email

    Rendered for a sample person asked today (subject, HTML and text), with the words given (a part left
    out: the one in use). Nothing is stored or sent; read-only keys may call it.
    """
    return _preview(list_by_public_id(public_id), language, body, preview_reconfirmation)
