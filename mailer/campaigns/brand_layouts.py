"""Visual layouts follow the brand: a new brand goes wherever a visual layout still shows the old one.

A visual layout is made from the brand (layouts.visual_start_html), so its colours, font, logo and footer line
are copies of the brand's values. When the brand changes, every value that is still exactly the old brand's
is replaced by the new brand's, in the layout's HTML and in its editor design: the brand colour in any colour
property, the text colour where it sits on the brand colour (the same CSS rule or style attribute), the brand
font stack, the logo image and the footer line. A value the marketer changed by hand no longer matches and is
left alone. Written (HTML) layouts use `brand.*` at render and need nothing; built-in layouts keep their
own colours. Campaigns that have gone out keep the HTML compiled when they started; drafts read their layout
when they are previewed, tested or sent, so they follow.
"""

import html as html_lib
import json
import re
from dataclasses import dataclass, field

from sqlalchemy import select

from mailer import audit
from mailer.campaigns import layouts
from mailer.campaigns.models import Layout
from mailer.core.extensions import db
from mailer.organisation import brand

_STYLE_ATTR = re.compile(r'(\sstyle=")([^"]*)(")', re.I)
_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.I | re.S)
_RULE_BODY = re.compile(r"(\{)([^{}]*)(\})")
_HEX = re.compile(r"^#([0-9a-f]{3}|[0-9a-f]{6})$")
_RGB = re.compile(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$")
_COLOUR_PROPERTIES = {
    "color",
    "background",
    "background-color",
    "border",
    "border-color",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-top-color",
    "border-right-color",
    "border-bottom-color",
    "border-left-color",
    "outline-color",
    "text-decoration-color",
}


def _colour(value: str) -> str:
    """A CSS colour value as #rrggbb (lowercase), or '' when it is not a plain hex or rgb() colour."""
    value = value.strip().lower()
    if _HEX.match(value):
        return value if len(value) == 7 else "#" + "".join(c * 2 for c in value[1:])
    if match := _RGB.match(value):
        channels = [int(part) for part in match.groups()]
        return "#" + "".join(f"{c:02x}" for c in channels) if max(channels) <= 255 else ""
    return ""


def _font(value: str) -> tuple[str, ...]:
    """A font-family list compared without quotes, spaces or case."""
    return tuple(name.strip().strip("'\"").strip().lower() for name in html_lib.unescape(value).split(","))


@dataclass
class Change:
    """The brand before and after a save, and which kinds of value were replaced in one layout."""

    old: dict[str, str]
    new: dict[str, str]
    kinds: set[str] = field(default_factory=set)

    def declaration(self, prop: str, value: str, on_brand: bool) -> str | None:
        """The new value for one CSS declaration, or None to leave it as it is."""
        prop = prop.strip().lower()
        old, new = self.old, self.new
        if prop == "font-family" and old["font_stack"] != new["font_stack"]:
            if _font(value) == _font(old["font_stack"]):
                self.kinds.add("font")
                return new["font_stack"]
            return None
        if prop not in _COLOUR_PROPERTIES:
            return None
        words = value.split()
        for index, word in enumerate(words):
            colour = _colour(word)
            if colour and colour == old["colour"] and old["colour"] != new["colour"]:
                words[index] = new["colour"]
                self.kinds.add("colour")
            elif (
                prop == "color"
                and on_brand
                and colour == old["text_colour"]
                and old["text_colour"] != new["text_colour"]
            ):
                words[index] = new["text_colour"]
                self.kinds.add("text_colour")
        rewritten = " ".join(words)
        return rewritten if rewritten != " ".join(value.split()) else None


def _on_brand(declarations: dict[str, str], old_colour: str) -> bool:
    """Whether a rule's background is the (old) brand colour: its text colour is then the brand's."""
    for prop in ("background-color", "background"):
        if any(_colour(word) == old_colour for word in declarations.get(prop, "").split()):
            return True
    return False


def _rewrite_declarations(text: str, change: Change) -> str:
    """One CSS declaration block ("a:b;c:d"), each brand value replaced; untouched text kept as it was."""
    pieces = text.split(";")
    parsed = {}
    for piece in pieces:
        if ":" in piece:
            prop, value = piece.split(":", 1)
            parsed[prop.strip().lower()] = value
    on_brand = _on_brand(parsed, change.old["colour"])
    out = []
    for piece in pieces:
        if ":" in piece:
            prop, value = piece.split(":", 1)
            new = change.declaration(prop, value, on_brand)
            if new is not None:
                piece = f"{prop}:{new}"
        out.append(piece)
    return ";".join(out)


def _rewrite_style_dict(style: dict, change: Change) -> None:
    """A design's style object ({"color": "#fff", …}) with the brand values replaced in place."""
    on_brand = _on_brand({str(k).lower(): str(v) for k, v in style.items()}, change.old["colour"])
    for prop, value in list(style.items()):
        if isinstance(value, str):
            new = change.declaration(prop, value, on_brand)
            if new is not None:
                style[prop] = new


def _footer_forms(text: str) -> list[str]:
    """The ways a footer line can appear in exported HTML (as first written, or after the editor's export)."""
    if not text:
        return []
    first = layouts.brand_text(text).replace("\n", "<br>")
    plain = html_lib.escape(text, quote=False).replace("\n", "<br>")
    return list(dict.fromkeys([first, plain, first.replace("<br>", "<br/>"), plain.replace("<br>", "<br/>")]))


def rebrand_html(html: str, change: Change) -> str:
    """A layout's HTML with the old brand's values replaced by the new brand's (see the module docstring)."""

    def attribute(match: re.Match) -> str:
        value = html_lib.unescape(match.group(2))
        rewritten = _rewrite_declarations(value, change)
        if rewritten == value:
            return match.group(0)
        return match.group(1) + html_lib.escape(rewritten, quote=True).replace("&#x27;", "'") + match.group(3)

    def style_block(match: re.Match) -> str:
        css = _RULE_BODY.sub(
            lambda m: m.group(1) + _rewrite_declarations(m.group(2), change) + m.group(3), match.group(2)
        )
        return match.group(1) + css + match.group(3)

    html = _STYLE_BLOCK.sub(style_block, html)
    html = _STYLE_ATTR.sub(attribute, html)
    old, new = change.old, change.new
    if old["logo_url"] and new["logo_url"] and old["logo_url"] != new["logo_url"]:
        source = f'src="{html_lib.escape(old["logo_url"], quote=True)}"'
        if source in html:
            html = html.replace(source, f'src="{html_lib.escape(new["logo_url"], quote=True)}"')
            change.kinds.add("logo")
    if old["footer_text"] and new["footer_text"] and old["footer_text"] != new["footer_text"]:
        for form in _footer_forms(old["footer_text"]):
            if form in html:
                html = html.replace(form, layouts.brand_text(new["footer_text"]).replace("\n", "<br>"))
                change.kinds.add("footer_text")
                break
    return html


def _rewrite_design(node, change: Change) -> None:
    """Walk the editor's design (GrapesJS project JSON): style objects, image sources and text nodes."""
    if isinstance(node, list):
        for item in node:
            _rewrite_design(item, change)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "style" and isinstance(value, dict):
            _rewrite_style_dict(value, change)
        elif key == "style" and isinstance(value, str):
            node[key] = _rewrite_declarations(value, change)
        elif (
            key == "src"
            and isinstance(value, str)
            and value == change.old["logo_url"]
            and change.new["logo_url"]
        ):
            node[key] = change.new["logo_url"]
        else:
            _rewrite_design(value, change)


def rebrand_project(project: str, html: str, change: Change) -> str:
    """The design with the same values replaced and the new HTML as its export; '' (the editor re-imports the
    HTML next time) when it can't be read or the footer line changed, which the design splits into pieces."""
    if not project:
        return ""
    try:
        data = json.loads(project)
    except ValueError:
        return ""
    if not isinstance(data, dict) or "footer_text" in change.kinds:
        return ""
    _rewrite_design({k: v for k, v in data.items() if k != "mailer"}, change)
    mailer = data.get("mailer")
    data["mailer"] = {**(mailer if isinstance(mailer, dict) else {}), "exported": html}
    return json.dumps(data)


def _visual_layouts() -> list[Layout]:
    query = (
        select(Layout).where(Layout.html_format == "visual", Layout.builtin.is_(False)).order_by(Layout.id)
    )
    return list(db.session.execute(query).scalars())


def following(current: dict[str, str] | None = None) -> list[Layout]:
    """The visual layouts that still show some of the brand's values (what a brand change would update)."""
    current = current or brand.current()
    probe = {
        "colour": "#000001" if current["colour"] != "#000001" else "#000002",
        "text_colour": "#000003" if current["text_colour"] != "#000003" else "#000004",
        "font": "",
        "font_stack": "probe-font",
        "logo_url": "probe:logo",
        "footer_text": "probe footer",
    }
    found = []
    for layout in _visual_layouts():
        change = Change(current, probe)
        rebrand_html(layout.html, change)
        if change.kinds:
            found.append(layout)
    return found


def follow_brand(old: dict[str, str], new: dict[str, str], actor=None, ip: str | None = None) -> list[Layout]:
    """Put the new brand into every visual layout that still shows the old one; audited per layout. A layout
    the result would fail the layout checks for is left as it was. The caller commits."""
    updated = []
    for layout in _visual_layouts():
        change = Change(old, new)
        html = rebrand_html(layout.html, change)
        if not change.kinds or layouts.check_layout(layout.name, html)[2]:
            continue
        layout.project = rebrand_project(layout.project, html, change)
        layout.html = html
        audit.record(
            "layout.rebranded",
            "layout",
            layout.public_id,
            {"brand": sorted(change.kinds)},
            actor=actor,
            ip=ip,
        )
        updated.append(layout)
    db.session.flush()
    return updated


def save_brand(data: brand.BrandInput, actor=None, ip: str | None = None) -> tuple[list[str], list[Layout]]:
    """Save the brand (brand.save: validated, audited) and bring the visual layouts that follow it along;
    (the brand fields that changed, the layouts updated). Raises brand.BrandRefused; the caller commits."""
    old = brand.current()
    changed = brand.save(data, actor=actor, ip=ip)
    updated = follow_brand(old, brand.current(), actor=actor, ip=ip) if changed else []
    return changed, updated
