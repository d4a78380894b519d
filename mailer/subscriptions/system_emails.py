"""A form's confirmation email as staff edit it per language: subject, body and button, with merge tags.

The marketer's part is plain text rendered in Jinja's sandbox, where only the merge tags below (and `{% if %}`
on them) are allowed; it may not hold links, web addresses or HTML (REQUIREMENTS G2: no advertising in the
confirmation email). Our template adds the required parts around it: the confirmation button and link, the
link's lifetime, the right to object (F3), the organisation's name and postal address. A form whose email
was never edited sends the built-in, translated wording, unchanged.
"""

import hashlib
import re
import traceback
from dataclasses import dataclass

from flask_babel import gettext
from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup
from sqlalchemy import select

from mailer import audit
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.core.text import TextRefused, multi_line, one_line
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.system_emails import SystemEmail, SystemEmailKind

MERGE_TAGS = {
    "name": "the person's name (empty when they gave none)",
    "organisation": "your organisation's name",
    "lists": "the lists they asked for",
    "form": "the form's title in this language",
}
MAX_SUBJECT = 150
MAX_BUTTON = 60
MAX_BODY = 2000
MAX_BODY_LINES = 40
# Web addresses, mail links and bare domain names ("shop.example", "info@shop.example"): a confirmation
# email links to nothing but the confirmation, and mail programs turn a bare domain into a link.
_ADDRESS = re.compile(
    r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.|mailto:)|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}\b"
)
_HTML = re.compile(r"<\s*[a-zA-Z!/]")
_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class EmailRefused(ValueError):
    """The edited email cannot be saved or previewed; `errors` maps a field to its messages (with lines)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


@dataclass
class EmailText:
    """Subject, body and button of one system email in one language (as typed, merge tags unrendered)."""

    subject: str
    body: str
    button_label: str

    @property
    def content_hash(self) -> str:
        """The version of these words: what the ledger records for each email sent with them."""
        joined = "\x00".join((self.subject, self.body, self.button_label))
        return hashlib.sha256(joined.encode()).hexdigest()


@dataclass
class RenderedEmail:
    """An edited email filled in for one person: the subject, the body's paragraphs and the button."""

    subject: str
    paragraphs: list[str]
    button_label: str
    version: str  # EmailText.content_hash


def defaults(language: str) -> EmailText:
    """The built-in wording in `language`, with merge tags: where an editor starts, and "reset to default"."""
    with i18n.speaking(language):
        intro = gettext(
            "please confirm that you want to receive <strong>%(lists)s</strong> from %(organisation)s.",
            lists="{{ lists }}",
            organisation="{{ organisation }}",
        )
        return EmailText(
            subject=gettext(
                "Please confirm your subscription to %(organisation)s", organisation="{{ organisation }}"
            ),
            body=f"{gettext('Hello,')}\n{intro.replace('<strong>', '').replace('</strong>', '')}",
            button_label=gettext("Confirm my subscription"),
        )


def edited(form: Form, language: str, kind: str = SystemEmailKind.CONFIRMATION) -> SystemEmail | None:
    """The form's edited email of this kind in `language`, or None (the built-in wording is used)."""
    query = select(SystemEmail).where(
        SystemEmail.form_id == form.id, SystemEmail.kind == kind, SystemEmail.language == language
    )
    return db.session.execute(query).scalar_one_or_none()


def current_text(form: Form, language: str) -> EmailText:
    """What the editor shows: the edited words, else the defaults."""
    row = edited(form, language)
    if row is None:
        return defaults(language)
    return EmailText(row.subject, row.body, row.button_label)


def _line_of(exc: Exception) -> int | None:
    """The template line a render error happened on (Jinja rewrites tracebacks to the template's lines)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else None


def _check_nodes(tree: nodes.Template, what: str) -> list[str]:
    """Only text, the merge tags and `{% if tag %}` on them: nothing else of Jinja (no filters, no
    attributes, no calls, no loops), so the sandbox is a second wall, never the only one."""
    problems = []
    allowed = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.Not)
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Name):
            if node.name not in MERGE_TAGS:
                problems.append(
                    f"{what}, line {node.lineno}: “{node.name}” is not a merge tag; use "
                    + ", ".join(f"{{{{ {tag} }}}}" for tag in MERGE_TAGS)
                    + "."
                )
        elif not isinstance(node, allowed):
            problems.append(
                f"{what}, line {node.lineno}: only merge tags such as {{{{ name }}}} and "
                "{% if name %}…{% endif %} are allowed here, not other template code."
            )
    return list(dict.fromkeys(problems))


def _check_part(value: str, what: str, field: str, errors: dict[str, list[str]]) -> None:
    """Refuse links, addresses and HTML line by line, then template code other than merge tags."""
    for number, line in enumerate(value.splitlines() or [""], 1):
        if _ADDRESS.search(line):
            errors.setdefault(field, []).append(
                f"{what}, line {number}: remove the web or email address — the confirmation email may "
                "link only to the confirmation (no advertising); the button is added for you."
            )
        elif _HTML.search(line):
            errors.setdefault(field, []).append(
                f"{what}, line {number}: write plain text; HTML, images and links are not allowed here."
            )
    if field in errors:
        return
    try:
        tree = _env.parse(value)
    except TemplateSyntaxError as exc:
        errors.setdefault(field, []).append(f"{what}, line {exc.lineno}: {exc.message}")
        return
    if problems := _check_nodes(tree, what):
        errors.setdefault(field, []).extend(problems)


def clean(text: EmailText) -> EmailText:
    """Check typed words (lengths, control codes, no addresses or HTML, merge tags only); EmailRefused names
    each problem on the marketer's own line."""
    errors: dict[str, list[str]] = {}
    values = {}
    for field, what, limit, reader in (
        ("subject", "Subject", MAX_SUBJECT, one_line),
        ("button_label", "Button", MAX_BUTTON, one_line),
        ("body", "Text", MAX_BODY, multi_line),
    ):
        try:
            values[field] = reader(getattr(text, field) or "", what).strip()
        except TextRefused as exc:
            errors[field] = [str(exc)]
            continue
        if not values[field]:
            errors[field] = [f"{what}: write something, or reset to the default wording."]
        elif len(values[field]) > limit:
            errors[field] = [f"{what}: too long ({len(values[field])} characters; {limit} at most)."]
        elif field == "body" and len(values[field].splitlines()) > MAX_BODY_LINES:
            errors[field] = [f"Text: too many lines ({MAX_BODY_LINES} at most)."]
        else:
            _check_part(values[field], what, field, errors)
    if errors:
        raise EmailRefused(errors)
    return EmailText(values["subject"], values["body"].replace("\r\n", "\n"), values["button_label"])


def _render_part(value: str, context: dict, what: str, field: str) -> str:
    try:
        return _env.from_string(value).render(context)
    except (SecurityError, UndefinedError, TypeError) as exc:  # kept out by clean(); the sandbox holds too
        line = _line_of(exc)
        where = f"{what}, line {line}" if line else what
        raise EmailRefused({field: [f"{where}: this is not allowed ({exc})."]}) from None


def render(text: EmailText, context: dict) -> RenderedEmail:
    """Fill the merge tags for one person (`context`: name, organisation, lists, form); checked first."""
    text = clean(text)
    values = {tag: str(context.get(tag) or "") for tag in MERGE_TAGS}
    body = _render_part(text.body, values, "Text", "body")
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    return RenderedEmail(
        subject=" ".join(_render_part(text.subject, values, "Subject", "subject").split()),
        paragraphs=paragraphs,
        button_label=" ".join(_render_part(text.button_label, values, "Button", "button_label").split()),
        version=text.content_hash,
    )


def paragraphs_html(paragraphs: list[str]) -> list[Markup]:
    """Each paragraph escaped, its single line breaks kept: plain text shown as HTML, never HTML itself."""
    return [Markup("<br>").join(Markup.escape(line) for line in p.splitlines()) for p in paragraphs]


def save(form: Form, language: str, text: EmailText, actor=None, ip: str | None = None) -> SystemEmail:
    """Store the checked words as the form's confirmation email in `language`, audited; the caller commits."""
    if language not in (form.languages or []) and language != form.wording_language:
        raise EmailRefused({"language": ["The form is not published in that language."]})
    text = clean(text)
    row = edited(form, language)
    if row is None:
        row = SystemEmail(form_id=form.id, kind=SystemEmailKind.CONFIRMATION, language=language)
        db.session.add(row)
    changed = (row.subject, row.body, row.button_label) != (text.subject, text.body, text.button_label)
    row.subject, row.body, row.button_label = text.subject, text.body, text.button_label
    row.content_hash, row.updated_by_id = text.content_hash, getattr(actor, "id", None)
    db.session.flush()
    if changed:
        details = {"kind": "confirmation", "language": language, "version": text.content_hash}
        audit.record("form.system_email", "form", form.public_id, details, actor=actor, ip=ip)
    return row


def reset(form: Form, language: str, actor=None, ip: str | None = None) -> bool:
    """Go back to the built-in wording in `language` (audited); whether there was an edited one."""
    row = edited(form, language)
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    details = {"kind": "confirmation", "language": language, "reset": True}
    audit.record("form.system_email", "form", form.public_id, details, actor=actor, ip=ip)
    return True
