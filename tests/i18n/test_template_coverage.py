"""Every template people read is extracted for translation (babel.cfg), and every one of them (admin, public
pages, embed, emails, layouts; not the gallery's starters, which are marketer content) holds no English left
outside `_()`/`{% trans %}`: no bare text and no bare aria-label, title, placeholder or alt. With
test_catalogues.py (every extracted string translated in it/de/fr/es) this makes every page and email complete
in the five languages."""

import configparser
import fnmatch
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
# Templates that are not the product's words: campaign starters are marketer content (the marketer's own
# language), copied and edited in the admin. The layouts' footers are ours and speak the recipient's language.
NOT_PRODUCT_WORDS = ("gallery/*",)
# Every other template is the product's words: the admin, the public pages, the embed, the emails and the
# layouts' footers. Each is extracted and holds no bare English (issue 16: the five languages everywhere).
PRODUCT_TEMPLATES = tuple(
    name
    for name in (str(path.relative_to(TEMPLATES)) for path in sorted(TEMPLATES.rglob("*")) if path.is_file())
    if name.endswith((".html", ".txt")) and not any(fnmatch.fnmatch(name, skip) for skip in NOT_PRODUCT_WORDS)
)
# Words that read the same in every language (names of standards and products); alone they need no `_()`.
UNIVERSAL = re.compile(r"^(UTC|DKIM|SPF|DMARC|SMTP|HTML|CSV|JSON|API|URL|RSS|ID|px|KB|MB|[A-Z]{1,3})$")
SPOKEN_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "aria-description")
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TRANS_BLOCK = re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", re.S)


def _extracted_patterns() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "babel.cfg")
    return [section.split(":", 1)[1].strip() for section in config.sections() if section.startswith("jinja2")]


def _matches(relative: str, pattern: str) -> bool:
    # babel's `**` crosses folders; fnmatch's `*` does too, which is what `**` means here.
    return fnmatch.fnmatch(relative, pattern.replace("**", "*"))


def test_every_template_people_read_is_extracted():
    patterns = _extracted_patterns()
    names = [str(path.relative_to(TEMPLATES)) for path in sorted(TEMPLATES.rglob("*")) if path.is_file()]
    missing = [
        name
        for name in names
        if not any(fnmatch.fnmatch(name, skipped) for skipped in NOT_PRODUCT_WORDS)
        and not any(_matches(f"templates/{name}", pattern) for pattern in patterns)
    ]
    assert not missing, f"add to babel.cfg: {missing}"


class _Words(HTMLParser):
    """Collects the text a person reads or hears: text outside script/style, and spoken attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        self.found.extend(value for name, value in attrs if name in SPOKEN_ATTRIBUTES and value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.found.append(data)


def untranslated(source: str) -> list[str]:
    """The English words of a template that no `_()` or `{% trans %}` carries."""
    source = TRANS_BLOCK.sub(" ", source)
    source = JINJA.sub(" ", source)
    parser = _Words()
    parser.feed(source)
    parser.close()
    left = []
    for text in parser.found:
        for piece in re.split(r"[\s·—–|/()×:;,.*…]+", text):
            if re.search(r"[A-Za-z]{2,}", piece) and not UNIVERSAL.match(piece):
                left.append(text.strip())
                break
    return left


def test_the_scanner_finds_bare_words():
    assert untranslated('<p>Hello {{ name }}</p><a title="Open it">{{ _("x") }}</a>') == ["Hello", "Open it"]
    carried = "<p>{{ _('Hello') }} · UTC {% trans %}Hi {{ n }}{% endtrans %}</p><script>x()</script>"
    assert untranslated(carried) == []


def test_every_area_is_covered():
    areas = {name.split("/")[0] for name in PRODUCT_TEMPLATES if "/" in name}
    assert {"admin", "public", "embed", "email", "layouts"} <= areas and len(PRODUCT_TEMPLATES) > 100


@pytest.mark.parametrize("name", PRODUCT_TEMPLATES)
def test_templates_have_no_bare_english(name):
    assert _matches(f"templates/{name}", "templates/*") and any(
        _matches(f"templates/{name}", pattern) for pattern in _extracted_patterns()
    )
    assert untranslated((TEMPLATES / name).read_text()) == []
