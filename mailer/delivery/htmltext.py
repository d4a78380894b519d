"""The text part of an email, generated from its HTML when the marketer did not write one."""

import re

import lxml.html  # type: ignore[import-untyped]  # lxml ships no type information (stubs are not pinned)

_SKIP = {"head", "style", "script", "title", "noscript"}
_BLOCK = {
    "p",
    "div",
    "table",
    "tr",
    "ul",
    "ol",
    "blockquote",
    "section",
    "header",
    "footer",
    "article",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "pre",
    "center",
    "body",
}
_HIDDEN = re.compile(r"display\s*:\s*none", re.I)


def _walk(el, out: list[str]) -> None:
    """Append the visible text of an element, with line breaks where blocks start and end."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _SKIP or _HIDDEN.search(el.get("style") or ""):
        if el.tail:
            out.append(el.tail)
        return
    if tag in _BLOCK:
        out.append(
            "\n\n" if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol") else "\n"
        )
    if tag == "li":
        out.append("\n- ")
    if tag == "hr":
        out.append("\n----\n")
    if tag == "br":
        out.append("\n")
    if tag == "td":
        out.append(" ")
    if tag == "img" and el.get("alt"):
        out.append(el.get("alt"))
    start = len(out)
    if el.text:
        out.append(el.text)
    for child in el:
        _walk(child, out)
    if tag == "a":
        label = " ".join("".join(out[start:]).split())
        href = (el.get("href") or "").strip()
        if href and not href.startswith("#") and href != label and not href.startswith("mailto:" + label):
            out.append(f" ({href})")
    if tag in _BLOCK:
        out.append("\n")
    if el.tail:
        out.append(el.tail)


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML email: paragraphs, list items, and links as 'label (url)'."""
    if not html.strip():
        return ""
    root = lxml.html.document_fromstring(html)
    out: list[str] = []
    _walk(root, out)
    lines = [" ".join(line.split()) for line in "".join(out).split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r"^(- .*)\n\n(?=- )", r"\1\n", text, flags=re.M)  # list items on consecutive lines
    return text.strip() + "\n"
