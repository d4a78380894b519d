"""Brand settings: a colour with the text colour used on it, a font stack, a logo from the media library and a
footer line. Campaign layouts receive them as `brand` (brand.colour, brand.text_colour, brand.font_stack,
brand.logo_url, brand.footer_text), and the public pages and system emails use them. Colour pairs below WCAG
AA (4.5:1) are refused: the text on the brand colour, and the brand colour on white (links, headings).
"""

import re
from dataclasses import dataclass

from flask import current_app

from mailer import audit
from mailer.core.extensions import db
from mailer.core.text import TextRefused, multi_line
from mailer.organisation.models import OrganisationSettings

HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
FONT_STACKS = {
    "system": (
        "Sans-serif (the reader's system font)",
        "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
    ),
    "serif": ("Serif (Georgia)", "Georgia, 'Times New Roman', Times, serif"),
    "wide": ("Wide sans-serif (Verdana)", "Verdana, Geneva, Tahoma, sans-serif"),
}
DEFAULT_COLOUR = "#1f4e79"
DEFAULT_TEXT_COLOUR = "#ffffff"
WHITE = "#ffffff"
AA = 4.5
MAX_FOOTER = 1000


class BrandRefused(ValueError):
    """Values that cannot be stored; `errors` maps each field to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class BrandInput:
    colour: str = DEFAULT_COLOUR
    text_colour: str = DEFAULT_TEXT_COLOUR
    font: str = "system"
    logo_url: str = ""
    footer_text: str = ""


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a #rrggbb colour."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours (1 to 21)."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


DEFAULTS = {
    "colour": DEFAULT_COLOUR,
    "text_colour": DEFAULT_TEXT_COLOUR,
    "font": "system",
    "font_stack": FONT_STACKS["system"][1],
    "logo_url": "",
    "footer_text": "",
}


def current() -> dict[str, str]:
    """The brand as layouts, pages and system emails use it (defaults for what is not set)."""
    row = db.session.get(OrganisationSettings, 1)
    if row is None:
        return dict(DEFAULTS)
    font = row.brand_font if row.brand_font in FONT_STACKS else "system"
    return {
        "colour": row.brand_colour or DEFAULT_COLOUR,
        "text_colour": row.brand_text_colour or DEFAULT_TEXT_COLOUR,
        "font": font,
        "font_stack": FONT_STACKS[font][1],
        "logo_url": row.brand_logo_url or "",
        "footer_text": row.brand_footer_text or "",
    }


def _clean(data: BrandInput) -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, str] = {}
    values = {}
    for key, label in (("colour", "brand colour"), ("text_colour", "text colour")):
        value = (getattr(data, key) or "").strip().lower()
        if not HEX.match(value):
            errors[key] = f"Give the {label} as #rrggbb, e.g. #1f4e79."
        values[key] = value
    if not errors:
        on_brand = contrast(values["text_colour"], values["colour"])
        if on_brand < AA:
            errors["text_colour"] = (
                f"Text in {values['text_colour']} on {values['colour']} has a contrast of {on_brand:.1f}:1; "
                f"at least {AA}:1 is needed (WCAG AA) so everyone can read it. Choose a darker or lighter "
                "colour."
            )
        on_white = contrast(values["colour"], WHITE)
        if on_white < AA:
            errors["colour"] = (
                f"The brand colour {values['colour']} on white has a contrast of {on_white:.1f}:1; links and "
                f"headings in it need at least {AA}:1 (WCAG AA). Choose a darker shade."
            )
    values["font"] = data.font if data.font in FONT_STACKS else ""
    if not values["font"]:
        errors["font"] = "Choose one of the fonts offered."
    logo = (data.logo_url or "").strip()
    media_bases = [f"{current_app.config['MAILER_BASE_URL']}/media/"]
    if current_app.config.get("MAILER_MEDIA_S3_BUCKET"):  # the bucket's URL, as mailer.media.storage makes it
        media_bases.append(f"{current_app.config['MAILER_MEDIA_S3_PUBLIC_URL']}/")
    if logo and not logo.startswith(tuple(media_bases)):
        errors["logo_url"] = "Choose the logo from the media library."
    values["logo_url"] = logo
    try:
        values["footer_text"] = multi_line(data.footer_text, "The footer text").strip()
    except TextRefused as exc:
        errors["footer_text"] = str(exc)
    else:
        if len(values["footer_text"]) > MAX_FOOTER:
            errors["footer_text"] = f"The footer text is too long ({MAX_FOOTER} characters at most)."
    return values, errors


def save(data: BrandInput, actor=None, ip: str | None = None) -> list[str]:
    """Validate (contrast included) and store the brand, audited; the names of the fields that changed.
    Raises BrandRefused naming each problem; the caller commits."""
    values, errors = _clean(data)
    if errors:
        raise BrandRefused(errors)
    row = db.session.get(OrganisationSettings, 1)
    if row is None:
        row = OrganisationSettings(id=1, name="", postal_address="", from_name="", from_email="", reply_to="")
        db.session.add(row)
    changed = []
    for key, value in values.items():
        column = f"brand_{key}"
        if (getattr(row, column) or "") != value:
            setattr(row, column, value)
            changed.append(key)
    row.updated_by_id = getattr(actor, "id", None)
    db.session.flush()
    audit.record("settings.brand", "settings", "brand", {"changed": changed}, actor=actor, ip=ip)
    return changed
