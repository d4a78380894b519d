"""Times on admin pages: written in UTC by the server, shown in the viewer's own time zone by the browser.

`{{ value|when }}` renders <time datetime="…Z" title="… UTC">… UTC</time>; static/enhance.js rewrites the text
with Intl.DateTimeFormat in the browser's time zone, in the page's language, and leaves the UTC time in the
title (on hover). Without JavaScript the page still says the time, in UTC and marked as such. English pages
write it as ISO 8601 (2026-12-06 10:00 UTC); the other languages their own way (Babel: 06.12.26, 10:00 UTC).
"""

from datetime import UTC, date, datetime

from flask_babel import format_date, format_datetime
from markupsafe import Markup, escape

from mailer.core import i18n

FORMATS = {"minute": "%Y-%m-%d %H:%M", "second": "%Y-%m-%d %H:%M:%S", "date": "%Y-%m-%d"}
# Babel's names of each precision's pattern in the other languages (short: no seconds; medium: with them).
LOCALE_FORMATS = {"minute": "short", "second": "medium", "date": "medium"}


def _shown(value: date, precision: str) -> str:
    """The UTC time as the page's language writes it ("UTC" added when it is a time, not a date)."""
    if i18n.current_language() == i18n.DEFAULT_LANGUAGE:
        text = value.strftime(FORMATS[precision])
    elif precision == "date" or not isinstance(value, datetime):
        text = format_date(value, LOCALE_FORMATS["date"])
    else:
        text = format_datetime(value.replace(tzinfo=UTC), LOCALE_FORMATS[precision], rebase=False)
    return text + ("" if precision == "date" else " UTC")


def when_text(value: date | None, precision: str = "minute") -> str:
    """The same time as plain text, for an attribute (an aria-label, a title): '—' for None; a `date` is a
    UTC day."""
    if value is None:
        return "—"
    if not isinstance(value, datetime):
        precision = "date"  # a UTC day: the same day everywhere
    elif value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return _shown(value, precision)


def when(value: date | None, precision: str = "minute") -> Markup | str:
    """A <time> element for a UTC timestamp (naive values are UTC, as every `_at` column is), or for a UTC
    day (a `date`, with precision 'date'); '—' for None."""
    if value is None:
        return "—"
    if not isinstance(value, datetime):
        precision = "date"  # a UTC day: the same day everywhere
    elif value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    shown = _shown(value, precision)
    if isinstance(value, datetime) and precision != "date":
        machine = value.isoformat(timespec="seconds") + "Z"
    else:
        machine = value.strftime("%Y-%m-%d")
    return Markup('<time datetime="{}" title="{}" data-local="{}">{}</time>').format(
        machine, shown if precision != "date" else shown + " (UTC)", precision, escape(shown)
    )
