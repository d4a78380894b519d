"""A transactional template rendered like a campaign (campaigns' sandbox, Markdown, CSS inlining), inside the
built-in transactional layout: the organisation's name and postal address, no marketing footer, no tracking.

Merge data from the request is `data` in the template (`{{ data.reset_url }}`); a contact's own fields are
`contact` (`{{ contact.first_name | default("there") }}`), as in campaigns.
"""

import os
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from mailer.campaigns.rendering import (
    CampaignError,
    CompiledCampaign,
    Rendered,
    compile_campaign,
    contact_view,
)
from mailer.campaigns.template_limits import failure_message
from mailer.core import urls
from mailer.organisation import brand
from mailer.organisation import settings as organisation_settings
from mailer.transactional.models import TxTemplate

LAYOUT_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "templates",
    "layouts",
    "transactional.html",
)
SAMPLE_DATA = {"reset_url": "https://www.example.com/reset/sample", "order_number": "1001"}
_COMPILED: dict[tuple[int, datetime | None], CompiledCampaign] = {}  # per process: compiling inlines CSS


class TemplateRenderError(ValueError):
    """The template can't be rendered with this data; the message says what to fix."""


@dataclass
class _Layout:
    html: str


@dataclass
class _Source:
    """What compile_campaign reads of a campaign, filled from a transactional template."""

    layout: _Layout
    body: str
    body_format: str
    subject: str
    text_body: str = ""  # the text part comes from the HTML (a campaign's own text adds a marketing footer)
    preheader: str = ""


def _layout_html() -> str:
    with open(LAYOUT_FILE, encoding="utf-8") as handle:
        return handle.read()


def compile_template(template: TxTemplate) -> CompiledCampaign:
    """The template compiled once per version and process (links are never rewritten: no click tracking)."""
    key = (template.id, template.updated_at)
    compiled = _COMPILED.get(key) if template.id else None
    if compiled is None:
        source = _Source(_Layout(_layout_html()), template.body, template.body_format, template.subject)
        try:
            compiled = compile_campaign(source, link_ids=None)
        except CampaignError as exc:
            raise TemplateRenderError(str(exc).replace("campaign", "template")) from None
        if template.id:
            if len(_COMPILED) > 200:
                _COMPILED.clear()
            _COMPILED[key] = compiled
    return compiled


def render_message(
    template: TxTemplate, data: dict, *, email: str, name: str | None, attributes=None, fields=None
) -> Rendered:
    """Subject, HTML and text of one message; TemplateRenderError when the template or data can't render."""
    compiled = compile_template(template)
    context = {
        "organisation": organisation_settings.name(),
        "postal_address": organisation_settings.postal_address(),
        "brand": brand.current(),
        "privacy_url": urls.external_url("public.privacy_notice"),
        "contact": contact_view(email, name, attributes, fields),
        "data": data,
        "_pixel": Markup(""),  # no open tracking in transactional mail
        "_links": {},
    }
    try:
        return compiled.render(context)
    except Exception as exc:  # whatever a template does wrong with this data is a clear refusal, never a 500
        raise TemplateRenderError(failure_message(exc)) from None
