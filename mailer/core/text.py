"""One rule for text people send us: no NUL or other control character (C0, DEL, C1) and no lone surrogate.

Text that may span lines (a description, a consent statement, a message body) keeps line breaks and tabs; text
that is one line — a name, a subject, a From name, anything that can reach a mail header — never holds them.
PostgreSQL refuses a NUL in any text, and ESC, BEL or a line break written into a header corrupts the message.
"""

import re

from mailer.core.sentences import N_, Sentence

# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F; Cs are surrogates (only lone ones reach
# str).
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
MULTI_LINE_REFUSED = re.compile(f"[{_CONTROL}]")
# One line: line and paragraph separators (U+2028/U+2029) and line breaks end a header line too.
SINGLE_LINE_REFUSED = re.compile(f"[{_CONTROL}\\t\\n\\r\\u2028\\u2029\\x85]")
WHITESPACE_RUN = re.compile(r"\s+")


class TextRefused(ValueError):
    """The text holds characters we do not store; the message says which text and what to do."""


CONTROLS_REFUSED = Sentence(
    N_("%(what)s contains characters we can't store (invisible control codes). Please type it again.")
)
# What the refusal names, translated with it where shown (other names stay as the caller wrote them).
TEXT_NAMES = [
    Sentence(N_("The name")),
    Sentence(N_("The description")),
    Sentence(N_("The list's name")),
    Sentence(N_("The template's name")),
    Sentence(N_("The postal address")),
    Sentence(N_("The footer text")),
    Sentence(N_("The alt text")),
    Sentence(N_("The file name")),
    Sentence(N_("The organisation name")),
    Sentence(N_("The sender name")),
    Sentence(N_("The subject")),
    Sentence(N_("The body")),
    Sentence(N_("The text part")),
    Sentence(N_("The preheader")),
]


def refusal_message(what: str) -> str:
    """The message a person reads when their text holds control characters (English; pages show it in the
    viewer's language through core.sentences.shown)."""
    return CONTROLS_REFUSED(what=what)


def has_controls(value: str, multiline: bool = False) -> bool:
    """True when the text holds a control character (line breaks and tabs count only for one-line text)."""
    return (MULTI_LINE_REFUSED if multiline else SINGLE_LINE_REFUSED).search(value) is not None


def one_line(value: str | None, what: str) -> str:
    """One-line text as stored: TextRefused if it holds a
    control character, else trimmed with spaces collapsed.

    Tabs and line breaks (pasted text) become single spaces; every other control character is refused.
    """
    value = value or ""
    if has_controls(value.replace("\t", " ").replace("\r", " ").replace("\n", " ")):
        raise TextRefused(refusal_message(what))
    return " ".join(value.split())


def multi_line(value: str | None, what: str) -> str:
    """Text that may span lines: TextRefused if it holds a
    control character other than line breaks and tabs."""
    value = value or ""
    if has_controls(value, multiline=True):
        raise TextRefused(refusal_message(what))
    return value


def header_safe(value: str | None) -> str:
    """The last defence before a mail header: control characters
    dropped, line breaks and runs of space as one."""
    return " ".join(WHITESPACE_RUN.sub(" ", SINGLE_LINE_REFUSED.sub(" ", value or "")).split())
