"""The visual (block editor) body format: the editor's project JSON kept beside the HTML it exported.

The HTML is the body that is sent, checked and compiled exactly like an HTML body; the project only lets the
block editor open the design again. The editor escapes text as HTML, so a merge field typed into a text
block arrives as `{{ contact.first_name | default(&quot;there&quot;) }}`: inside Jinja tags the entities are
turned back into the characters the marketer typed.
"""

import html as html_lib
import json
import re

MAX_PROJECT = 120_000  # characters of project JSON (the form field's memory cap is 128 KiB)
_TAG = re.compile(r"(\{\{|\{%)(.*?)(\}\}|%\})", re.S)
_BODY_TAG = re.compile(r"</?body\b[^>]*>", re.I)


class ProjectError(ValueError):
    """The editor's project can't be stored; the message is written for the marketer."""


def clean_project(text: str, body: str) -> str:
    """The project JSON as submitted, if it is a JSON object within the size cap (else ProjectError).

    The editor records the HTML it exported under `mailer.exported`; when the body differs from it (edited as
    HTML without JavaScript), the project is stale and dropped: the editor then re-imports the body.
    """
    text = (text or "").strip()
    if not text:
        return ""
    if len(text) > MAX_PROJECT:
        raise ProjectError(
            f"The visual design is too large to save ({len(text):,} characters; {MAX_PROJECT:,} at most). "
            "Remove some blocks, or switch to HTML."
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise ProjectError("The visual design could not be read; reload the page and try again.") from None
    if not isinstance(data, dict):
        raise ProjectError("The visual design could not be read; reload the page and try again.")
    exported = (data.get("mailer") or {}).get("exported") if isinstance(data.get("mailer"), dict) else None
    if not isinstance(exported, str) or clean_exported_html(exported) != body:
        return ""
    return text


def _unescape_tag(match: re.Match) -> str:
    inner = html_lib.unescape(match.group(2)).replace("\u00a0", " ")
    return match.group(1) + inner + match.group(3)


def clean_exported_html(html: str) -> str:
    """The exported HTML as a body: merge-field tags unescaped, the editor's <body> wrapper taken off."""
    html = (html or "").replace("\r\n", "\n")
    html = _BODY_TAG.sub("", html)
    return _TAG.sub(_unescape_tag, html).strip() + "\n" if html.strip() else ""
