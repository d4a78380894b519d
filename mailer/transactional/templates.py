"""Transactional templates: save (checked by rendering them with sample data), archive, restore, find."""

import re

from flask_babel import format_number, gettext
from jinja2 import TemplateSyntaxError
from sqlalchemy import select

from mailer import audit
from mailer.campaigns.rendering import Rendered, html_env
from mailer.contacts.operations import AddressError, normalise_email
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.relays import Relay
from mailer.transactional.models import BodyFormat, TxTemplate
from mailer.transactional.rendering import SAMPLE_DATA, TemplateRenderError, render_message

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_BODY_LENGTH = 100_000
MAX_SUBJECT_LENGTH = 300
MAX_NAME_LENGTH = 200
SAMPLE_EMAIL, SAMPLE_NAME = "jane.doe@example.com", "Jane Doe"  # the previews' recipient


class TemplateError(ValueError):
    """A template could not be saved; `problems` lists every reason, written for the person editing it."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


def by_public_id(public_id: str) -> TxTemplate | None:
    """The template with this public id."""
    return db.session.execute(
        select(TxTemplate).where(TxTemplate.public_id == public_id[:32])
    ).scalar_one_or_none()


def by_key(key: str) -> TxTemplate | None:
    """The template the API names by its key."""
    return db.session.execute(select(TxTemplate).where(TxTemplate.key == key[:64])).scalar_one_or_none()


def all_templates(archived: bool = False) -> list[TxTemplate]:
    """Active (or archived) templates by name."""
    condition = TxTemplate.archived_at.is_not(None) if archived else TxTemplate.archived_at.is_(None)
    return list(db.session.execute(select(TxTemplate).where(condition).order_by(TxTemplate.name)).scalars())


def preview(template: TxTemplate, data: dict) -> Rendered:
    """The template (stored or not) rendered for the sample recipient with this merge data, as the editor's
    preview shows it; TemplateRenderError says what to fix."""
    return render_message(template, data, email=SAMPLE_EMAIL, name=SAMPLE_NAME)


def _problems(fields: dict, template: TxTemplate | None) -> tuple[list[str], bool]:
    """Every problem of the fields, in the staff member's language, and whether the text has a syntax error
    (then it is not rendered with the sample data)."""
    problems = []
    syntax_error = False
    if not KEY_PATTERN.fullmatch(fields["key"]):
        problems.append(
            gettext(
                "The key must be 1–64 lower-case letters, digits, '-' or '_', starting with a letter or "
                "digit (for example password-reset)."
            )
        )
    else:
        other = by_key(fields["key"])
        if other is not None and other is not template:
            problems.append(gettext("Another template already has the key “%(key)s”.", key=fields["key"]))
    if not fields["name"] or len(fields["name"]) > MAX_NAME_LENGTH:
        problems.append(
            gettext("Give the template a name (at most %(num)s characters).", num=MAX_NAME_LENGTH)
        )
    if not fields["subject"] or len(fields["subject"]) > MAX_SUBJECT_LENGTH or "\n" in fields["subject"]:
        problems.append(
            gettext("Write a subject of one line (at most %(num)s characters).", num=MAX_SUBJECT_LENGTH)
        )
    if not fields["body"].strip():
        problems.append(gettext("The template has no content yet."))
    elif len(fields["body"]) > MAX_BODY_LENGTH:
        problems.append(
            gettext(
                "The content is too long (%(num)s characters at most).", num=format_number(MAX_BODY_LENGTH)
            )
        )
    if fields["body_format"] not in tuple(BodyFormat):
        problems.append(gettext("Choose Markdown or HTML for the content."))
    syntax_messages = (
        (gettext("The subject has a template error on line %(line)s: %(problem)s"), fields["subject"]),
        (gettext("The content has a template error on line %(line)s: %(problem)s"), fields["body"]),
    )
    for message, source in syntax_messages:
        try:
            html_env.parse(source)
        except TemplateSyntaxError as exc:  # line numbers of the text as typed, not of the layout around it
            problems.append(message % {"line": exc.lineno, "problem": exc.message})
            syntax_error = True
    if fields["reply_to"]:
        try:
            fields["reply_to"] = normalise_email(fields["reply_to"])
        except AddressError:
            problems.append(gettext("The reply-to address is not a valid email address."))
    if fields["relay_id"] is not None and db.session.get(Relay, fields["relay_id"]) is None:
        problems.append(gettext("That relay does not exist any more; choose another."))
    return problems, syntax_error


def save_template(
    fields: dict, template: TxTemplate | None = None, actor=None, via: dict | None = None
) -> TxTemplate:
    """Create or change a template from key, name, subject, body, body_format, reply_to, relay_id; refused
    with every problem (including a render with sample data), nothing written. Commits."""
    fields = {
        "key": (fields.get("key") or "").strip().lower(),
        "name": (fields.get("name") or "").strip(),
        "subject": (fields.get("subject") or "").strip(),
        "body": (fields.get("body") or "").replace("\r\n", "\n"),
        "body_format": fields.get("body_format") or BodyFormat.MARKDOWN,
        "reply_to": (fields.get("reply_to") or "").strip(),
        "relay_id": fields.get("relay_id") or None,
    }
    problems, syntax_error = _problems(fields, template)
    if fields["body"].strip() and not syntax_error:
        trial = TxTemplate(**fields)  # unsaved: rendered once with sample data before anything is stored
        try:
            preview(trial, dict(SAMPLE_DATA))
        except TemplateRenderError as exc:
            problems.append(str(exc))
    if problems:
        raise TemplateError(problems)
    created = template is None
    if template is None:
        template = TxTemplate()
        db.session.add(template)
    for name, value in fields.items():
        setattr(template, name, value)
    template.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "tx_template.created" if created else "tx_template.changed",
        "tx_template",
        template.public_id,
        {"key": template.key, **(via or {})},
        actor=actor,
    )
    db.session.commit()
    return template


def set_archived(template: TxTemplate, archived: bool, actor=None, via: dict | None = None) -> None:
    """Archive (the API refuses it from now on) or restore a template. Commits."""
    template.archived_at = utcnow() if archived else None
    audit.record(
        "tx_template.archived" if archived else "tx_template.restored",
        "tx_template",
        template.public_id,
        {"key": template.key, **(via or {})},
        actor=actor,
    )
    db.session.commit()
