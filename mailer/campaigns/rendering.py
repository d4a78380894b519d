"""Campaign rendering: marketer layouts and bodies in Jinja's sandbox, compiled and CSS-inlined per campaign.

Compiling protects every Jinja tag behind an inert placeholder, turns Markdown into HTML, puts the body
where the layout says `{{ content }}`, inlines the CSS (email_css: nothing is ever fetched), and turns
links into `{{ _links[id] }}` slots. What is left is one sandboxed template per campaign that each
recipient renders in microseconds: merge fields, footer URLs, and tracking only for those who consented.
"""

import hashlib
import html as html_lib
import logging
import re
import secrets
from dataclasses import dataclass, field

import markdown
from jinja2 import ChainableUndefined, TemplateSyntaxError
from markupsafe import Markup

from mailer.campaigns import merge_tags, template_limits
from mailer.campaigns.email_css import inline_css, remote_style_problems
from mailer.campaigns.sandbox import BoundedSandbox
from mailer.campaigns.template_limits import failure_message
from mailer.contacts.fields import merge_values
from mailer.core import i18n, urls
from mailer.delivery.htmltext import html_to_text
from mailer.organisation import brand
from mailer.organisation import settings as organisation_settings

log = logging.getLogger(__name__)

# Every marketing layout must show these (REQUIREMENTS H1): variable -> what a person calls it.
FOOTER_PARTS = {
    "unsubscribe_url": "unsubscribe link",
    "preferences_url": "preference-centre link",
    "postal_address": "postal address",
    "organisation": "sender's name (organisation)",
}
SAMPLE_CONTACT = {
    "email": "jane.doe@example.com",
    "name": "Jane Doe",
    "first_name": "Jane",
    "last_name": "Doe",
    "attributes": {},
}
_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_CONTENT_TAG = re.compile(r"\{\{-?\s*content\s*(?:\|\s*safe\s*)?-?\}\}")
_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")', re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)

html_env = BoundedSandbox(autoescape=True, undefined=ChainableUndefined)
text_env = BoundedSandbox(autoescape=False, undefined=ChainableUndefined)


class CampaignError(ValueError):
    """The campaign cannot be previewed, tested or sent as it is; the message says what to fix."""


@dataclass(frozen=True)
class Rendered:
    """One recipient's email: subject line, HTML part and text part."""

    subject: str
    html: str
    text: str


class _Placeholders:
    """Swaps Jinja tags for inert alphanumeric tokens (which Markdown and premailer leave alone) and back."""

    def __init__(self):
        self.nonce = secrets.token_hex(4)
        self.originals: dict[str, str] = {}

    def token(self, original: str) -> str:
        key = f"zq{self.nonce}x{len(self.originals)}qz"
        self.originals[key] = original
        return key

    def protect(self, text: str) -> str:
        return _JINJA_TAG.sub(lambda m: self.token(m.group(0)), text)

    def restore(self, text: str) -> str:
        if not self.originals:
            return text
        pattern = re.compile(f"zq{self.nonce}x\\d+qz")
        return pattern.sub(lambda m: self.originals.get(m.group(0), m.group(0)), text)

    def contains(self, text: str) -> bool:
        return f"zq{self.nonce}x" in text


def contact_view(
    email: str | None, name: str | None, attributes: dict | None, fields: dict | None = None
) -> dict:
    """What templates see as `contact`; unknown names are left out so `default("there")` applies.

    `contact.fields.<key>` are the ordinary custom field values (sensitive ones are never given).
    """
    attributes = dict(attributes or {})
    view: dict = {"email": email or "", "attributes": attributes, "fields": dict(fields or {})}
    parts = (name or "").split()
    first = attributes.get("first_name") or (parts[0] if parts else "")
    last = attributes.get("last_name") or (" ".join(parts[1:]) if len(parts) > 1 else "")
    for key, value in (("name", name), ("first_name", first), ("last_name", last)):
        if value:
            view[key] = value
    return view


def _body_html(body: str, body_format: str, ph: _Placeholders) -> str:
    protected = ph.protect((body or "").replace("\r\n", "\n"))
    if body_format == "markdown":
        return markdown.markdown(protected, extensions=["extra", "sane_lists"], output_format="html")
    return protected


def markdown_to_html(body: str) -> str:
    """A Markdown body as the HTML it renders to, merge fields kept as typed (for switching formats)."""
    ph = _Placeholders()
    return ph.restore(_body_html(body, "markdown", ph))


_PRE_BLOCK = re.compile(r"(<(pre|textarea)\b.*?</\2>)", re.I | re.S)


def _fold_line(line: str, width: int = 200) -> str:
    """Break a long line at spaces outside tags (equivalent whitespace in HTML), so parts stay 7bit."""
    out, depth, col = [], 0, 0
    for char in line:
        if char == "<":
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        if char == " " and not depth and col >= width:
            out.append("\n")
            col = 0
            continue
        out.append(char)
        col += 1
    return "".join(out)


def _tidy_html(html: str) -> str:
    """Collapse runs of blanks and fold long lines, outside <pre> / <textarea>; once per campaign.

    The rendered HTML is then already in DKIM's relaxed form (no per-message regex pass) and has short lines,
    so it can go out 7bit instead of quoted-printable.
    """
    parts = _PRE_BLOCK.split(html)
    out = []
    index = 0
    while index < len(parts):
        text = parts[index]
        text = re.sub(r"[ \t]+\n", "\n", text)
        text = re.sub(r"[ \t]{2,}|\t", " ", text)
        out.append("\n".join(_fold_line(line) if len(line) > 300 else line for line in text.split("\n")))
        if index + 1 < len(parts):
            out.append(parts[index + 1])  # a <pre> or <textarea> block, untouched
        index += 3
    return "".join(out)


@dataclass
class CompiledCampaign:
    """A campaign's per-recipient templates (Jinja source) and the links it tracks (url by link id)."""

    html_source: str
    text_source: str
    subject_source: str
    preheader_source: str
    links: dict = field(default_factory=dict)

    def __post_init__(self):
        try:
            self._html = html_env.from_string(self.html_source)
            self._text = text_env.from_string(self.text_source)
            self._subject = text_env.from_string(self.subject_source) if "{" in self.subject_source else None
            self._preheader = (
                text_env.from_string(self.preheader_source) if "{" in self.preheader_source else None
            )
        except TemplateSyntaxError as exc:
            raise CampaignError(
                f"The email has a template error on line {exc.lineno}: {exc.message}"
            ) from None
        except (RecursionError, MemoryError) as exc:
            raise CampaignError(failure_message(exc)) from None

    def render(self, context: dict) -> Rendered:
        """Render subject, HTML and text for one recipient's context, together within one render budget
        (template_limits: time, output size, call depth); over a limit raises TemplateLimitError."""
        render = template_limits.render
        with template_limits.budget():
            subject = render(self._subject, context) if self._subject else self.subject_source
            subject = " ".join(subject.split())  # one line: a header must never carry a line break
            context["subject"] = subject
            context["preheader"] = (
                render(self._preheader, context) if self._preheader else self.preheader_source
            )
            return Rendered(subject, render(self._html, context), render(self._text, context))


def _text_footer() -> str:
    """The text part's footer, in the recipient's language (`_` is theirs; the words are the layouts')."""
    return (
        "\n\n--\n{{ organisation }}, {{ postal_address }}\n"
        "{{ _('Manage your preferences') }}: {{ preferences_url }}\n"
        "{{ _('Unsubscribe') }}: {{ unsubscribe_url }}\n"
        "{{ _('Privacy notice') }}: {{ privacy_url }}\n"
    )


def _check_parts(campaign, layout) -> None:
    """Each part on its own, so an error names the marketer's line in that part (not the compiled email's).

    A sensitive field named in a template is refused when the draft is saved; here it only never has a value
    (contact_view leaves sensitive fields out), so an older draft still renders, with its fallback."""
    parts = (
        ("subject", campaign.subject, text_env),
        ("preheader", campaign.preheader, text_env),
        ("body", campaign.body, html_env),
        ("text part", campaign.text_body, text_env),
    )
    name = getattr(layout, "name", "")
    for label, source, env in (*parts, (f"layout “{name}”" if name else "layout", layout.html, html_env)):
        if problem := merge_tags.template_problem(env, label, source or "", "template error"):
            raise CampaignError(problem)


def compile_campaign(campaign, link_ids=None) -> CompiledCampaign:
    """Compile a campaign once; link_ids(urls) -> {url: id} turns links into tracking slots (None: plain)."""
    layout = campaign.layout
    if layout is None:
        raise CampaignError("Choose a layout for this campaign.")
    if not (campaign.body or "").strip():
        raise CampaignError("The campaign has no content yet.")
    _check_parts(campaign, layout)
    ph = _Placeholders()
    body = _body_html(campaign.body, campaign.body_format, ph)
    source = layout.html.replace("\r\n", "\n")
    marker = f"zq{ph.nonce}bodyqz"
    if not _CONTENT_TAG.search(source):
        raise CampaignError("The layout has no {{ content }} placeholder for the campaign's body.")
    source = ph.protect(_CONTENT_TAG.sub(marker, source)).replace(marker, body)
    pixel = ph.token("{{ _pixel }}")
    source = source.replace("</body>", pixel + "</body>", 1) if "</body>" in source else source + pixel
    inlined = _tidy_html(inline_css(source))
    text_html = inlined.replace(pixel, "")
    if (campaign.text_body or "").strip():
        text = ph.protect(campaign.text_body.replace("\r\n", "\n")).rstrip() + "\n" + _text_footer()
    else:
        text = html_to_text(text_html)
    links: dict = {}
    if link_ids is not None:
        urls = []
        for match in _HREF.finditer(inlined):
            url = html_lib.unescape(match.group(2)).strip()
            if url.startswith(("http://", "https://")) and not ph.contains(url) and url not in urls:
                urls.append(url)
        ids = link_ids(urls) if urls else {}
        links = {ids[u]: u for u in urls}

        def slot(match):
            url = html_lib.unescape(match.group(2)).strip()
            if url in ids:
                return match.group(1) + ph.token(f"{{{{ _links[{ids[url]}] }}}}") + match.group(3)
            return match.group(0)

        inlined = _HREF.sub(slot, inlined)
    return CompiledCampaign(
        ph.restore(inlined), ph.restore(text), campaign.subject or "", campaign.preheader or "", links
    )


def base_context(campaign) -> dict:
    """The per-campaign part of every recipient's template context."""
    return {
        "organisation": organisation_settings.name(),
        "postal_address": organisation_settings.postal_address(),
        "brand": brand.current(),  # colour, text_colour, font_stack, logo_url, footer_text for layouts
        "privacy_url": urls.external_url("public.privacy_notice"),  # the published privacy notice (Art. 13)
        "campaign": {"name": campaign.name},
        "_pixel": Markup(""),
        **language_context(None),
    }


def language_context(language: str | None) -> dict:
    """What makes a layout's footer speak the recipient's language: `_` (their catalogue) and `language`."""
    return {"_": i18n.translator(language), "language": i18n.supported(language) or i18n.DEFAULT_LANGUAGE}


# A campaign in these states has gone out (or begun to): it is shown as it was compiled when it started.
_STARTED = ("sending", "paused", "sent", "cancelled")


def _preview_source(campaign) -> CompiledCampaign:
    """What a preview shows: a campaign that has started, the sources compiled when it started (its layout may
    have changed since, e.g. with a new brand); a draft, its content and layout as they are now."""
    if getattr(campaign, "status", None) in _STARTED and campaign.compiled_html:
        links = {link.id: link.url for link in campaign.links}
        return CompiledCampaign(
            campaign.compiled_html,
            campaign.compiled_text,
            campaign.subject or "",
            campaign.preheader or "",
            links,
        )
    return compile_campaign(campaign)


def render_campaign(campaign, contact=None) -> Rendered:
    """Preview as a chosen contact, or as a sample person; links are shown untracked."""
    compiled = _preview_source(campaign)
    if contact is not None:
        fields = merge_values([contact.id]).get(contact.id, {})
        view = contact_view(contact.email, contact.name, contact.attributes, fields)
        contact_id = contact.public_id
    else:
        view, contact_id = dict(SAMPLE_CONTACT), "preview"
    list_id = campaign.lists[0].public_id if campaign.lists else None
    context = base_context(campaign)
    context.update(language_context(contact.language if contact is not None else None))
    context.update(
        contact=view,
        unsubscribe_url=urls.unsubscribe_url(contact_id, list_id, campaign.public_id),
        preferences_url=urls.preferences_url(contact_id),
        _links=compiled.links,
    )
    try:
        return compiled.render(context)
    except Exception as exc:  # whatever a marketer's template does wrong is theirs to fix, never a 500
        raise CampaignError(failure_message(exc)) from None


def validate_layout(html: str) -> list[str]:
    """Problems that stop a layout from being used, in words a marketer understands (empty list: fine)."""
    if not (html or "").strip():
        return ["The layout is empty."]
    try:
        template = html_env.from_string(html)
    except TemplateSyntaxError as exc:
        return [f"Template error on line {exc.lineno}: {exc.message}"]
    except (RecursionError, MemoryError) as exc:
        return [failure_message(exc)]
    problems = remote_style_problems(html)
    if not _CONTENT_TAG.search(html):
        problems.append("The layout must show the campaign's body: put {{ content }} where it goes.")
    tag = hashlib.sha256(html.encode()).hexdigest()[:8]
    sentinels = {
        "unsubscribe_url": f"https://sentinel.invalid/unsubscribe-{tag}",
        "preferences_url": f"https://sentinel.invalid/preferences-{tag}",
        "postal_address": f"SENTINEL-POSTAL-{tag}",
        "organisation": f"SENTINEL-ORGANISATION-{tag}",
    }
    context = dict(
        sentinels,
        content=Markup("<p>Body</p>"),
        subject="Subject",
        preheader="Preheader",
        contact=dict(SAMPLE_CONTACT),
        campaign={"name": "Campaign"},
        _pixel=Markup(""),
        _links={},
        **language_context(None),
    )
    try:
        rendered = _COMMENT.sub("", template_limits.render(template, context))
    except Exception as exc:  # any failure of a marketer's template is reported, not raised
        return [*problems, failure_message(exc, "The layout can't be rendered")]
    for part, label in FOOTER_PARTS.items():
        if sentinels[part] not in rendered:
            problems.append(f"The layout must contain the {label}: add {{{{ {part} }}}} to the footer.")
    return problems
