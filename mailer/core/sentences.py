"""Sentences a worker stores in English and a page shows later: each one msgid with `%(name)s` parameters.

A worker writes `SENTENCE(name=value)` (English: the stored text, what the API and logs give); a page shows
the stored text through `shown()` (the `sentence` template filter), which finds the msgid the text was made
from and gives it in the viewer's language, each parameter that is itself such a sentence translated too.
Rows stored before are the same English, so they translate as well; text that no sentence matches (an
exception's own words, a relay's answer) is shown as it was stored.
"""

import re

from flask_babel import gettext

_PARAMETER = re.compile(r"%\\\((\w+)\\\)[sd]")


def N_(msgid: str) -> str:  # noqa: N802 (the name pybabel looks for)
    """Mark a msgid for extraction (pybabel's default keywords include N_); it is translated where shown."""
    return msgid


class Sentence:
    """One stored sentence: formats the English text and recognises it again to translate it."""

    def __init__(self, msgid: str, words: dict[str, frozenset[str]] | None = None):
        """`words`: parameters whose values are stored codes that are msgids themselves (a status)."""
        self.msgid = msgid
        self.words = words or {}
        pattern = _PARAMETER.sub(lambda m: f"(?P<{m.group(1)}>.*?)", re.escape(msgid))
        self._pattern = re.compile(pattern, re.DOTALL)
        _SENTENCES.append(self)

    def __call__(self, **params: object) -> str:
        """The English text to store."""
        return self.msgid % params

    def parameters(self, text: str) -> dict[str, str] | None:
        """The parameters `text` was made with, or None when it is not this sentence."""
        found = self._pattern.fullmatch(text)
        return None if found is None else found.groupdict()


_SENTENCES: list[Sentence] = []


def shown(text: object) -> str:
    """A stored sentence (or a refusal's message) in the current language, the viewer's; unknown text
    unchanged."""
    text = str(text if text is not None else "")
    for sentence in _SENTENCES:
        params = sentence.parameters(text)
        if params is not None:
            return gettext(
                sentence.msgid,
                **{
                    name: gettext(value) if value in sentence.words.get(name, ()) else shown(value)
                    for name, value in params.items()
                },
            )
    return text
