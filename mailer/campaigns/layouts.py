"""Layouts: the built-in defaults shipped in templates/layouts/, and saving a marketer's own.

A layout is stored only when every required footer part is in it (rendering.validate_layout), so any
saved layout is a verified one. A layout is written either as Jinja HTML or in the visual block editor: a
visual layout's `html` is the editor's export (checked and sent exactly like a written one) and `project`
keeps its design so the editor can open it again. A new visual layout starts from `visual_start_html`: the
brand's logo, colour and font, a locked content slot where the campaign body goes and a locked footer with
every required part (the editor refuses to remove blocks marked data-mailer-lock; the checks here refuse a
layout without the parts whatever the editor did).
"""

import html as html_lib
import os
from dataclasses import dataclass

from sqlalchemy import func, select

from mailer.campaigns import rendering, visual
from mailer.campaigns.models import Campaign, Layout
from mailer.core.extensions import db

LAYOUT_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "templates", "layouts"
)
# (file, name) of the layouts every installation starts with; the first is the default for new campaigns.
BUILTIN_LAYOUTS = (
    ("classic.html", "Classic card"),
    ("banner.html", "Bold banner"),
    ("letter.html", "Plain letter"),
)
MAX_NAME_LENGTH = 120
MAX_HTML_LENGTH = 100_000
FORMATS = ("html", "visual")


class LayoutError(ValueError):
    """A layout could not be saved; `problems` lists every reason, written for the marketer."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


def _builtin_html(filename: str) -> str:
    with open(os.path.join(LAYOUT_DIR, filename), encoding="utf-8") as handle:
        return handle.read()


def ensure_builtin_layouts() -> list[Layout]:
    """Create the shipped layouts if missing and keep them in step with their files; the caller commits."""
    layouts = []
    for filename, name in BUILTIN_LAYOUTS:
        html = _builtin_html(filename)
        layout = db.session.execute(
            select(Layout).where(Layout.builtin.is_(True), Layout.name == name)
        ).scalar_one_or_none()
        if layout is None:
            layout = Layout(name=name, html=html, builtin=True)
            db.session.add(layout)
        elif layout.html != html:
            layout.html = html  # a newer release improved the shipped file
        layout.verified = not rendering.validate_layout(html)
        layouts.append(layout)
    db.session.flush()
    return layouts


def all_layouts() -> list[Layout]:
    """Every layout, built-in ones first, then by name."""
    query = select(Layout).order_by(Layout.builtin.desc(), Layout.name, Layout.id)
    return list(db.session.execute(query).scalars())


def default_layout() -> Layout | None:
    """The layout a new campaign starts with: the first built-in one, else any verified layout."""
    name = BUILTIN_LAYOUTS[0][1]
    query = select(Layout).where(Layout.builtin.is_(True), Layout.name == name)
    layout = db.session.execute(query).scalar_one_or_none()
    if layout is None:
        layout = db.session.execute(
            select(Layout).where(Layout.verified.is_(True)).order_by(Layout.id).limit(1)
        ).scalar_one_or_none()
    return layout


def usage_counts() -> dict[int, int]:
    """How many campaigns use each layout."""
    query = (
        select(Campaign.layout_id, func.count())
        .where(Campaign.layout_id.is_not(None))
        .group_by(Campaign.layout_id)
    )
    return {layout_id: count for layout_id, count in db.session.execute(query) if layout_id is not None}


def check_layout(name: str, html: str) -> tuple[str, str, list[str]]:
    """Clean the fields and list every problem (empty list: the layout can be saved)."""
    name = " ".join((name or "").split())
    html = (html or "").replace("\r\n", "\n")
    problems = []
    if not name:
        problems.append("Give the layout a name.")
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(f"The name is too long ({MAX_NAME_LENGTH} characters at most).")
    if not html.strip():
        problems.append("The layout's HTML is empty.")
    elif len(html) > MAX_HTML_LENGTH:
        problems.append(f"The HTML is too long ({len(html):,} characters; {MAX_HTML_LENGTH:,} at most).")
    else:
        problems.extend(rendering.validate_layout(html))
    return name, html, problems


def clean_format(html_format: str, html: str, project: str) -> tuple[str, str, str]:
    """(format, html, project) as stored: a visual layout's export without the editor's <body> wrapper and
    its design kept only while it still made this HTML (else the editor re-imports the HTML); HTML keeps no
    design."""
    if html_format not in FORMATS:
        raise LayoutError(f"Unknown layout format “{html_format}”.")
    if html_format == "html":
        return "html", html, ""
    html = visual.clean_exported_html(html)
    try:
        return "visual", html, visual.clean_project(project, html)
    except visual.ProjectError as exc:
        raise LayoutError(str(exc)) from None


def save_layout(
    name: str, html: str, layout: Layout | None = None, html_format: str = "html", project: str = ""
) -> Layout:
    """Create or update a layout; refused (LayoutError) without every footer part. The caller commits."""
    if layout is not None and layout.builtin:
        raise LayoutError("Built-in layouts can't be changed. Make a copy and edit that instead.")
    html_format, html, project = clean_format(html_format, html or "", project)
    name, html, problems = check_layout(name, html)
    if problems:
        raise LayoutError("The layout was not saved: " + " ".join(problems), problems)
    if layout is None:
        layout = Layout(name=name, html=html)
        db.session.add(layout)
    layout.name, layout.html, layout.verified = name, html, True
    layout.html_format, layout.project = html_format, project
    db.session.flush()
    return layout


def copy_layout(layout: Layout) -> Layout:
    """A marketer's editable copy of any layout (built-in ones included); the caller commits."""
    name = f"Copy of {layout.name}"[:MAX_NAME_LENGTH]
    verified = not rendering.validate_layout(layout.html)
    copy = Layout(
        name=name,
        html=layout.html,
        verified=verified,
        builtin=False,
        html_format=layout.html_format or "html",
        project=layout.project or "",
    )
    db.session.add(copy)
    db.session.flush()
    return copy


def delete_layout(layout: Layout) -> None:
    """Remove a marketer's layout that no campaign uses; the caller commits."""
    if layout.builtin:
        raise LayoutError("Built-in layouts can't be deleted.")
    used = usage_counts().get(layout.id, 0)
    if used:
        plural = "s" if used != 1 else ""
        raise LayoutError(f"This layout is used by {used} campaign{plural}; it can't be deleted.")
    db.session.delete(layout)
    db.session.flush()


@dataclass(frozen=True)
class StartWords:
    """The starting design's words, in the marketer's language (the admin translates them)."""

    why: str  # "You receive this email because you subscribed to news from {{ organisation }}."
    preferences: str
    unsubscribe: str
    privacy: str


def brand_text(value: str) -> str:
    """Brand text as inert HTML: escaped, without Jinja delimiters (the marketer's words, not a template)."""
    return html_lib.escape(value).replace("{", "&#123;").replace("}", "&#125;")


def visual_start_html(brand: dict[str, str], words: StartWords) -> str:
    """A new visual layout: a header in the brand colour with the logo (else the organisation's name), the
    content slot, and the footer with every required part, in the brand's font; one table, 600 px wide."""
    colour, text_colour = brand_text(brand["colour"]), brand_text(brand["text_colour"])
    font = brand_text(brand["font_stack"]).replace("&#x27;", "'")
    if brand.get("logo_url"):
        header = (
            f'<img src="{brand_text(brand["logo_url"])}" alt="{{{{ organisation }}}}" height="48" '
            'style="display:block;height:48px;width:auto;max-width:240px;border:0;">'
        )
    else:
        header = "{{ organisation }}"
    footer_text = brand_text(brand.get("footer_text") or "").replace("\n", "<br>")
    why = footer_text or brand_text(words.why).replace(
        "&#123;&#123; organisation &#125;&#125;", "{{ organisation }}"
    )
    link = f"color:{colour};text-decoration:underline;"
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="width:100%;background-color:#eef1f5;font-family:{font};">'
        '<tr><td align="center" style="padding:24px 12px;">'
        '<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" '
        'style="width:600px;max-width:100%;background-color:#ffffff;">'
        f'<tr><td data-mailer-block="header" style="background-color:{colour};color:{text_colour};'
        f'padding:20px 32px;font-family:{font};font-size:20px;font-weight:bold;">{header}</td></tr>'
        '<tr><td data-mailer-lock="content" style="padding:24px 32px;'
        f'font-family:{font};font-size:16px;line-height:1.6;color:#222831;">{{{{ content }}}}</td></tr>'
        '<tr><td data-mailer-lock="footer" style="padding:20px 32px;background-color:#f6f7f9;'
        f'font-family:{font};font-size:12px;line-height:1.6;color:#4b5563;text-align:center;">'
        f'<p style="margin:0 0 8px 0;">{why}</p>'
        '<p style="margin:0 0 8px 0;">'
        f'<a href="{{{{ preferences_url }}}}" style="{link}">{brand_text(words.preferences)}</a>'
        f' · <a href="{{{{ unsubscribe_url }}}}" style="{link}">{brand_text(words.unsubscribe)}</a>'
        f' · <a href="{{{{ privacy_url }}}}" style="{link}">{brand_text(words.privacy)}</a></p>'
        '<p style="margin:0;">{{ organisation }} · {{ postal_address }}</p>'
        "</td></tr></table></td></tr></table>\n"
    )
