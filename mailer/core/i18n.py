"""Languages of recipients' pages and mail (Flask-Babel): which language a request or a message is in.

Recipients' pages and system mail speak the recipient's language: the contact's own (`contacts.language`) once
it is known, else the one negotiated from the browser's Accept-Language among the shipped languages. Admin
pages speak the language the staff member chose on their account page (`staff_users.language`, set by the
admin blueprint through `use_language`), else their browser's, else English. The API stays in English.
Catalogues live in mailer/translations (see docs/architecture.md, "Translatable strings").
"""

import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from babel import Locale
from babel.support import Translations
from flask import Flask, g, has_request_context, request
from flask_babel import Babel, force_locale, get_locale, refresh

DEFAULT_LANGUAGE = "en"
# The shipped languages, each with a complete catalogue (tests/i18n/test_catalogues.py checks it).
LANGUAGES: tuple[str, ...] = ("en", "it", "de", "fr", "es")
TRANSLATIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "translations")

babel = Babel()


def language_name(code: str) -> str:
    """A language's name in that language ("Italiano"), as a person looks for it in a list."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def language_choices() -> list[tuple[str, str]]:
    """(code, own name) of every shipped language, for a select."""
    return [(code, language_name(code)) for code in LANGUAGES]


def supported(code: str | None) -> str | None:
    """`code` if it is a shipped language, else None (a stored value is never trusted blindly)."""
    return code if code in LANGUAGES else None


def browser_language(offered: Iterable[str] = LANGUAGES) -> str:
    """The best of `offered` for the current request's Accept-Language; the first offered when none fits."""
    offered = [code for code in offered if code in LANGUAGES] or [DEFAULT_LANGUAGE]
    if not has_request_context():
        return offered[0]
    return request.accept_languages.best_match(offered) or offered[0]


def use_language(code: str | None) -> None:
    """Speak `code` for the rest of this request (a recipient's page once their contact is known)."""
    chosen = supported(code)
    if chosen is not None:
        g.mailer_language = chosen
        refresh()


def current_language() -> str:
    """The language the request (or a `speaking` block) is rendered in."""
    return str(get_locale() or DEFAULT_LANGUAGE)


@contextmanager
def speaking(code: str | None) -> Iterator[None]:
    """Render mail for a recipient in their language (English when unknown), whatever the request's."""
    with force_locale(supported(code) or DEFAULT_LANGUAGE):
        yield


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@functools.cache
def translator(code: str | None) -> Callable[..., str]:
    """`_` for a template rendered outside Flask-Babel's locale (a campaign's layout, rendered per
    recipient in the sandbox): the shipped catalogue of `code` (English when unknown), `%(name)s`
    placeholders filled from keyword arguments and nothing else of `%` formatting (a marketer's layout
    may call it)."""
    catalogue = Translations.load(TRANSLATIONS, [supported(code) or DEFAULT_LANGUAGE], domain="messages")

    def translate(message: str, **values: object) -> str:
        text = catalogue.gettext(str(message))
        if not values:
            return text
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)

    return translate


def _select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = g.get("mailer_language")
    if chosen:
        return chosen
    if request.blueprint == "api":
        return DEFAULT_LANGUAGE  # integrations read English (the API's messages are not translated)
    return browser_language()


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with our locale rule and catalogues; templates get `_`, `ngettext` and the format
    filters."""
    babel.init_app(
        app,
        locale_selector=_select_locale,
        default_translation_directories=TRANSLATIONS,
        default_domain="messages",
    )
    app.jinja_env.globals.update(current_language=current_language, language_name=language_name)
    # First of all before_request hooks: a request starts from its own browser's language, even where an
    # application context outlives one request (Flask's test client inside a test's context, a worker).
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_language)


def _fresh_language() -> None:
    g.pop("mailer_language", None)
    refresh()
