"""System emails as staff edit them per language: a form's confirmation email and a list's re-confirmation
(re-permission) email, each a subject, body and button, with merge tags.

The marketer's part is plain text rendered in Jinja's sandbox, where only the merge tags below (and `{% if %}`
on them) are allowed; it may not hold links, web addresses or HTML (REQUIREMENTS G2: no advertising in the
confirmation email, nor in a request about consent). Our template adds the required parts around it: the
button and its link, the link's lifetime (the re-confirmation's deadline), the right to object (F3), the
organisation's name and postal address. An email never edited sends the built-in, translated wording.
"""

import hashlib
import re
import traceback
from dataclasses import dataclass

from flask_babel import gettext, lazy_gettext
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
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.models.system_emails import SystemEmail, SystemEmailKind

# Whose email it is: a form owns its confirmation email, a list its re-confirmation email.
Owner = Form | MailingList
MERGE_TAGS = {
    "name": lazy_gettext("the person's name (empty when they gave none)"),
    "organisation": lazy_gettext("your organisation's name"),
    "lists": lazy_gettext("the lists they asked for"),
    "form": lazy_gettext("the form's title in this language"),
}
RECONFIRMATION_TAGS = {
    "name": lazy_gettext("the person's name (empty when they gave none)"),
    "organisation": lazy_gettext("your organisation's name"),
    "lists": lazy_gettext("the lists that wait for their answer"),
}
_TAGS = {SystemEmailKind.CONFIRMATION: MERGE_TAGS, SystemEmailKind.RECONFIRMATION: RECONFIRMATION_TAGS}
# What the one link of each email leads to (a refused address says so; %(part)s and %(line)s are filled in).
_ONLY_LINK = {
    SystemEmailKind.CONFIRMATION: lazy_gettext(
        "%(part)s, line %(line)s: remove the web or email address — the confirmation email may link only to "
        "the confirmation (no advertising); the button is added for you."
    ),
    SystemEmailKind.RECONFIRMATION: lazy_gettext(
        "%(part)s, line %(line)s: remove the web or email address — the re-confirmation email may link only "
        "to the re-confirmation (no advertising); the button is added for you."
    ),
}
# Each part's name in refusals ("Text, line 2: …"), in the reader's language.
PART_NAMES = {
    "subject": lazy_gettext("Subject"),
    "button_label": lazy_gettext("Button"),
    "body": lazy_gettext("Text"),
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


def kind_of(owner: Owner) -> str:
    """The system email an owner edits: a form's confirmation, a list's re-confirmation."""
    return SystemEmailKind.CONFIRMATION if isinstance(owner, Form) else SystemEmailKind.RECONFIRMATION


def merge_tags(kind: str) -> dict[str, str]:
    """The merge tags an email of this kind may use, with what each one is."""
    return _TAGS[SystemEmailKind(kind)]


@dataclass
class Preview:
    """A system email as the editor shows it: subject, HTML and text."""

    subject: str
    html: str
    text: str


def defaults(language: str, kind: str = SystemEmailKind.CONFIRMATION) -> EmailText:
    """The built-in wording in `language`, with merge tags: where an editor starts, and "reset to default"."""
    with i18n.speaking(language):
        if kind == SystemEmailKind.RECONFIRMATION:
            asks = gettext(
                "%(organisation)s asks whether you still want to receive:", organisation="{{ organisation }}"
            )
            return EmailText(
                subject=gettext(
                    "%(organisation)s: do you still want our emails?", organisation="{{ organisation }}"
                ),
                body=f"{gettext('Hello,')}\n{asks}\n{{{{ lists }}}}",
                button_label=gettext("Yes, keep me subscribed"),
            )
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


def edited(owner: Owner, language: str) -> SystemEmail | None:
    """The owner's edited email in `language`, or None (the built-in wording is used)."""
    column = SystemEmail.form_id if isinstance(owner, Form) else SystemEmail.list_id
    query = select(SystemEmail).where(
        column == owner.id, SystemEmail.kind == kind_of(owner), SystemEmail.language == language
    )
    return db.session.execute(query).scalar_one_or_none()


def current_text(owner: Owner, language: str) -> EmailText:
    """What the editor shows: the edited words, else the defaults."""
    row = edited(owner, language)
    if row is None:
        return defaults(language, kind_of(owner))
    return EmailText(row.subject, row.body, row.button_label)


def _line_of(exc: Exception) -> int | None:
    """The template line a render error happened on (Jinja rewrites tracebacks to the template's lines)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else None


def _check_nodes(tree: nodes.Template, what: str, tags: dict[str, str]) -> list[str]:
    """Only text, the merge tags and `{% if tag %}` on them: nothing else of Jinja (no filters, no
    attributes, no calls, no loops), so the sandbox is a second wall, never the only one."""
    problems = []
    allowed = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.Not)
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Name):
            if node.name not in tags:
                problems.append(
                    gettext(
                        "%(part)s, line %(line)s: “%(name)s” is not a merge tag; use %(tags)s.",
                        part=what,
                        line=node.lineno,
                        name=node.name,
                        tags=", ".join(f"{{{{ {tag} }}}}" for tag in tags),
                    )
                )
        elif not isinstance(node, allowed):
            problems.append(
                gettext(
                    "%(part)s, line %(line)s: only merge tags such as %(tag)s and %(condition)s are allowed "
                    "here, not other template code.",
                    part=what,
                    line=node.lineno,
                    tag="{{ name }}",
                    condition="{% if name %}…{% endif %}",
                )
            )
    return list(dict.fromkeys(problems))


def _check_part(value: str, what: str, field: str, errors: dict[str, list[str]], kind: str) -> None:
    """Refuse links, addresses and HTML line by line, then template code other than merge tags."""
    for number, line in enumerate(value.splitlines() or [""], 1):
        if _ADDRESS.search(line):
            only_link = _ONLY_LINK[SystemEmailKind(kind)]
            errors.setdefault(field, []).append(str(only_link) % {"part": what, "line": number})
        elif _HTML.search(line):
            errors.setdefault(field, []).append(
                gettext(
                    "%(part)s, line %(line)s: write plain text; HTML, images and links are not allowed here.",
                    part=what,
                    line=number,
                )
            )
    if field in errors:
        return
    try:
        tree = _env.parse(value)
    except TemplateSyntaxError as exc:
        errors.setdefault(field, []).append(
            gettext("%(part)s, line %(line)s: %(problem)s", part=what, line=exc.lineno, problem=exc.message)
        )
        return
    if problems := _check_nodes(tree, what, merge_tags(kind)):
        errors.setdefault(field, []).extend(problems)


def clean(text: EmailText, kind: str = SystemEmailKind.CONFIRMATION) -> EmailText:
    """Check typed words (lengths, control codes, no addresses or HTML, merge tags only); EmailRefused names
    each problem on the marketer's own line."""
    errors: dict[str, list[str]] = {}
    values = {}
    for field, english, limit, reader in (
        ("subject", "Subject", MAX_SUBJECT, one_line),
        ("button_label", "Button", MAX_BUTTON, one_line),
        ("body", "Text", MAX_BODY, multi_line),
    ):
        what = str(PART_NAMES[field])
        try:
            values[field] = reader(getattr(text, field) or "", english).strip()  # core's refusal is English
        except TextRefused as exc:
            errors[field] = [str(exc)]
            continue
        if not values[field]:
            errors[field] = [
                gettext("%(part)s: write something, or reset to the default wording.", part=what)
            ]
        elif len(values[field]) > limit:
            errors[field] = [
                gettext(
                    "%(part)s: too long (%(length)s characters; %(max)s at most).",
                    part=what,
                    length=len(values[field]),
                    max=limit,
                )
            ]
        elif field == "body" and len(values[field].splitlines()) > MAX_BODY_LINES:
            errors[field] = [
                gettext("%(part)s: too many lines (%(max)s at most).", part=what, max=MAX_BODY_LINES)
            ]
        else:
            _check_part(values[field], what, field, errors, kind)
    if errors:
        raise EmailRefused(errors)
    return EmailText(values["subject"], values["body"].replace("\r\n", "\n"), values["button_label"])


def _render_part(value: str, context: dict, field: str) -> str:
    try:
        return _env.from_string(value).render(context)
    except (SecurityError, UndefinedError, TypeError) as exc:  # kept out by clean(); the sandbox holds too
        line = _line_of(exc)
        what = str(PART_NAMES[field])
        where = gettext("%(part)s, line %(line)s", part=what, line=line) if line else what
        refusal = gettext("%(where)s: this is not allowed (%(problem)s).", where=where, problem=str(exc))
        raise EmailRefused({field: [refusal]}) from None


def render(text: EmailText, context: dict, kind: str = SystemEmailKind.CONFIRMATION) -> RenderedEmail:
    """Fill the merge tags for one person (`context`: name, organisation, lists, form); checked first."""
    text = clean(text, kind)
    values = {tag: str(context.get(tag) or "") for tag in merge_tags(kind)}
    body = _render_part(text.body, values, "body")
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    return RenderedEmail(
        subject=" ".join(_render_part(text.subject, values, "subject").split()),
        paragraphs=paragraphs,
        button_label=" ".join(_render_part(text.button_label, values, "button_label").split()),
        version=text.content_hash,
    )


def paragraphs_html(paragraphs: list[str]) -> list[Markup]:
    """Each paragraph escaped, its single line breaks kept: plain text shown as HTML, never HTML itself."""
    return [Markup("<br>").join(Markup.escape(line) for line in p.splitlines()) for p in paragraphs]


def languages_of(owner: Owner) -> list[str]:
    """The languages the owner's email can be edited in: a form's published ones, every language for a list
    (its subscribers read theirs)."""
    if isinstance(owner, Form):
        return list(dict.fromkeys([owner.wording_language, *(owner.languages or [])]))
    return list(i18n.LANGUAGES)


def _audit(owner: Owner, details: dict, actor, ip: str | None) -> None:
    target = "form" if isinstance(owner, Form) else "list"
    audit.record(f"{target}.system_email", target, owner.public_id, details, actor=actor, ip=ip)


def save(
    owner: Owner, language: str, text: EmailText, actor=None, ip: str | None = None, via: dict | None = None
) -> SystemEmail:
    """Store the checked words as the owner's email in `language`, audited (`via`: what the audit entry adds,
    e.g. the API key); the caller commits."""
    if language not in languages_of(owner):
        if isinstance(owner, Form):
            refusal = gettext("The form is not published in that language.")
        else:
            refusal = gettext("This email is not offered in that language.")
        raise EmailRefused({"language": [refusal]})
    kind = kind_of(owner)
    text = clean(text, kind)
    row = edited(owner, language)
    if row is None:
        row = SystemEmail(kind=kind, language=language)
        if isinstance(owner, Form):
            row.form_id = owner.id
        else:
            row.list_id = owner.id
        db.session.add(row)
    changed = (row.subject, row.body, row.button_label) != (text.subject, text.body, text.button_label)
    row.subject, row.body, row.button_label = text.subject, text.body, text.button_label
    row.content_hash, row.updated_by_id = text.content_hash, getattr(actor, "id", None)
    db.session.flush()
    if changed:
        details = {"kind": kind, "language": language, "version": text.content_hash, **(via or {})}
        _audit(owner, details, actor, ip)
    return row


def reset(owner: Owner, language: str, actor=None, ip: str | None = None, via: dict | None = None) -> bool:
    """Go back to the built-in wording in `language` (audited); whether there was an edited one."""
    row = edited(owner, language)
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    _audit(owner, {"kind": kind_of(owner), "language": language, "reset": True, **(via or {})}, actor, ip)
    return True
