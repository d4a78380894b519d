"""CSS of marketers' emails: inlined with premailer, and never a fetch of anything the CSS names.

premailer's allow_network=False only skips <link> stylesheets; cssutils, which parses every <style> block,
fetches `@import url(…)` itself (http, https and file://, without a timeout). So every parse here gets a
fetcher that refuses all URLs, @import rules are dropped from the output, and saving a layout or body that
uses @import or a <link> stylesheet is refused with a message saying why.
"""

import logging
import re

import cssutils  # type: ignore[import-untyped]  # cssutils ships no type information
from premailer import Premailer

log = logging.getLogger(__name__)

_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style\s*>|\Z)", re.I | re.S)  # unclosed: to the end
_IMPORT_RULE = re.compile(r"@import\b[^;{}]*;?", re.I)
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)", re.S)
_LINK_STYLESHEET = re.compile(r"<link\b[^>]*\brel\s*=\s*[\"']?[^\"'>]*stylesheet", re.I)


def refuse_fetch(url: str) -> None:
    """cssutils' fetcher: nothing is ever loaded (returning None leaves the @import rule empty)."""
    log.info("Refused to fetch a stylesheet named in an email's CSS")  # the URL may be personal: not logged
    return None


class _NoFetchPremailer(Premailer):
    """premailer whose every cssutils parse uses the refusing fetcher (its own cache would not)."""

    def _parse_css_string(self, css_body, validate=True):
        return cssutils.CSSParser(fetcher=refuse_fetch, validate=validate).parseString(css_body)


def without_imports(html: str) -> str:
    """The HTML with every @import rule removed from its <style> blocks."""
    return _STYLE_BLOCK.sub(lambda m: m.group(1) + _IMPORT_RULE.sub("", m.group(2)) + m.group(3), html)


def inline_css(html: str) -> str:
    """Inline the CSS into style attributes; fetches nothing (no <link>, no @import, no file)."""
    return _NoFetchPremailer(
        without_imports(html),
        allow_network=False,
        base_url=None,
        remove_classes=False,
        keep_style_tags=True,
        strip_important=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        disable_leftover_css=False,
    ).transform()


def _unescape(match: re.Match) -> str:
    if match.group(2) is not None:
        return match.group(2)
    code = int(match.group(1), 16)
    return chr(code) if code <= 0x10FFFF else "\ufffd"


def remote_style_problems(html: str, what: str = "layout") -> list[str]:
    """Why this HTML can't be saved, if it loads CSS from elsewhere (empty list: it doesn't)."""
    problems = []
    css = " ".join(
        block for _, block, _ in _STYLE_BLOCK.findall(html or "")
    )  # text elsewhere may say "@import"
    if re.search(r"@import\b", _CSS_ESCAPE.sub(_unescape, css), re.I):  # `@\69mport` is @import to CSS
        problems.append(
            f"The {what} uses @import to load a stylesheet. Emails can't load other files and we never "
            "fetch them for you: paste the CSS itself into a <style> block."
        )
    if _LINK_STYLESHEET.search(html or ""):
        problems.append(
            f'The {what} links a remote stylesheet (<link rel="stylesheet">), which most email '
            "programs ignore and we never fetch: paste the CSS itself into a <style> block."
        )
    return problems
