"""The template gallery: starter templates shipped in templates/gallery/, and campaigns saved as templates.

A starter is a table-based HTML body (usable as HTML, or imported into the visual editor's blocks) with a
Markdown variant where one reads as well; its pictures live in static/gallery/ and are named in the files as
GALLERY_ASSETS/<file>, replaced by their public URL when a campaign starts from it.
"""

import os
from dataclasses import dataclass

from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from mailer.campaigns.drafts import MAX_NAME, DraftFields
from mailer.campaigns.layouts import default_layout
from mailer.campaigns.models import Campaign, CampaignTemplate, Layout
from mailer.core.extensions import db
from mailer.core.text import TextRefused, one_line
from mailer.core.urls import external_url

GALLERY_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "templates", "gallery"
)
ASSET_MARKER = "GALLERY_ASSETS/"


@dataclass(frozen=True)
class Starter:
    """A template every installation has: its file name, what it is for, and the layout it looks best in."""

    key: str
    name: str  # the product's words (lazy: in the reader's language), unlike the subject: marketer content
    description: str
    subject: str
    preheader: str
    layout: str = "Classic card"


STARTERS = (
    Starter(
        "newsletter",
        lazy_gettext("Newsletter"),
        lazy_gettext("A picture, a lead story with a button, two short stories side by side."),
        'News for {{ contact.first_name | default("you") }}',
        "This month's stories in two minutes",
    ),
    Starter(
        "announcement",
        lazy_gettext("Announcement"),
        lazy_gettext("One piece of news, big and centred, with one button."),
        "We are opening a second shop",
        "From 1 June at 12 Harbour Street",
    ),
    Starter(
        "event",
        lazy_gettext("Event invitation"),
        lazy_gettext("A picture, the date, place and price in a box, and a button to register."),
        "You are invited: Spring open evening",
        "Thursday 14 May, 18:30 – talks, food and good company",
    ),
    Starter(
        "digest",
        lazy_gettext("Digest"),
        lazy_gettext("Five links with a line each, for a weekly round-up."),
        "The week in five links",
        "Five short reads we picked for you",
    ),
    Starter(
        "letter",
        lazy_gettext("Plain letter"),
        lazy_gettext("A personal letter: paragraphs only, no pictures or buttons."),
        'A note for {{ contact.first_name | default("you") }}',
        "",
        layout="Plain letter",
    ),
    Starter(
        "product-update",
        lazy_gettext("Product update"),
        lazy_gettext("A screenshot, what changed in three ticks, and a link to the changelog."),
        "Three improvements you asked for",
        "Faster search, shared folders and CSV export",
    ),
)


class TemplateError(ValueError):
    """A template could not be saved or used; the message is written for the marketer."""


def starter(key: str) -> Starter | None:
    """The starter with this key, or None."""
    return next((s for s in STARTERS if s.key == key), None)


def _read(key: str, extension: str) -> str | None:
    path = os.path.join(GALLERY_DIR, f"{key}.{extension}")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return text.replace(ASSET_MARKER, external_url("static", filename="gallery/"))


def formats(item: Starter) -> tuple[str, ...]:
    """The body formats a starter can be used in (Markdown only where it has a Markdown variant)."""
    has_markdown = os.path.exists(os.path.join(GALLERY_DIR, f"{item.key}.md"))
    return ("visual", "html", "markdown") if has_markdown else ("visual", "html")


def _layout_named(name: str) -> Layout | None:
    query = select(Layout).where(Layout.builtin.is_(True), Layout.name == name)
    return db.session.execute(query).scalar_one_or_none() or default_layout()


def starter_fields(item: Starter, body_format: str) -> DraftFields:
    """A new campaign's editor fields from a starter in one format (the visual editor imports the HTML)."""
    if body_format not in formats(item):
        body_format = "visual"
    body = _read(item.key, "md" if body_format == "markdown" else "html") or ""
    layout = _layout_named(item.layout)
    return DraftFields(
        name=str(item.name),
        subject=item.subject,
        preheader=item.preheader,
        body_format=body_format,
        body=body,
        layout_id=layout.id if layout else None,
    )


def saved_templates() -> list[CampaignTemplate]:
    """The organisation's saved templates, newest first."""
    query = select(CampaignTemplate).order_by(CampaignTemplate.created_at.desc(), CampaignTemplate.id.desc())
    return list(db.session.execute(query).scalars())


def template_fields(template: CampaignTemplate) -> DraftFields:
    """A new campaign's editor fields from a saved template (the design comes along)."""
    return DraftFields(
        name=template.name,
        subject=template.subject,
        preheader=template.preheader,
        body_format=template.body_format,
        body=template.body,
        body_project=template.body_project,
        text_body=template.text_body,
        layout_id=template.layout_id,
    )


def save_as_template(campaign: Campaign, name: str, by_id: int | None = None) -> CampaignTemplate:
    """Keep a campaign's content (not its audience or schedule) as a template; the caller commits."""
    try:
        name = one_line(name, "The template's name")
    except TextRefused as exc:
        raise TemplateError(str(exc)) from None
    if not name:
        raise TemplateError(gettext("Give the template a name."))
    if len(name) > MAX_NAME:
        raise TemplateError(
            gettext("The template's name is too long (%(max)s characters at most).", max=MAX_NAME)
        )
    if not (campaign.body or "").strip():
        raise TemplateError(gettext("The campaign has no content yet to keep as a template."))
    template = CampaignTemplate(
        name=name,
        subject=campaign.subject,
        preheader=campaign.preheader,
        body_format=campaign.body_format,
        body=campaign.body,
        body_project=campaign.body_project,
        text_body=campaign.text_body,
        layout_id=campaign.layout_id,
        created_by_id=by_id,
    )
    db.session.add(template)
    db.session.flush()
    return template


def delete_template(template: CampaignTemplate) -> None:
    """Remove a saved template (campaigns made from it keep their content); the caller commits."""
    db.session.delete(template)
    db.session.flush()
