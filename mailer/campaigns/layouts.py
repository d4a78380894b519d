"""Layouts: the built-in defaults shipped in templates/layouts/, and saving a marketer's own.

A layout is stored only when every required footer part is in it (rendering.validate_layout), so any
saved layout is a verified one.
"""

import os

from sqlalchemy import func, select

from mailer.campaigns import rendering
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


def save_layout(name: str, html: str, layout: Layout | None = None) -> Layout:
    """Create or update a layout; refused (LayoutError) without every footer part. The caller commits."""
    if layout is not None and layout.builtin:
        raise LayoutError("Built-in layouts can't be changed. Make a copy and edit that instead.")
    name, html, problems = check_layout(name, html)
    if problems:
        raise LayoutError("The layout was not saved: " + " ".join(problems), problems)
    if layout is None:
        layout = Layout(name=name, html=html)
        db.session.add(layout)
    layout.name, layout.html, layout.verified = name, html, True
    db.session.flush()
    return layout


def copy_layout(layout: Layout) -> Layout:
    """A marketer's editable copy of any layout (built-in ones included); the caller commits."""
    name = f"Copy of {layout.name}"[:MAX_NAME_LENGTH]
    verified = not rendering.validate_layout(layout.html)
    copy = Layout(name=name, html=layout.html, verified=verified, builtin=False)
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
