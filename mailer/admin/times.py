"""Times on admin pages: written in UTC by the server, shown in the viewer's own time zone by the browser.

`{{ value|when }}` renders <time datetime="…Z" title="… UTC">… UTC</time>; static/enhance.js rewrites the text
with Intl.DateTimeFormat in the browser's time zone and leaves the UTC time in the title (on hover). Without
JavaScript the page still says the time, in UTC and marked as such.
"""

from datetime import UTC, datetime

from markupsafe import Markup, escape

FORMATS = {"minute": "%Y-%m-%d %H:%M", "second": "%Y-%m-%d %H:%M:%S", "date": "%Y-%m-%d"}


def when(value: datetime | None, precision: str = "minute") -> Markup | str:
    """A <time> element for a UTC timestamp (naive values are UTC, as every `_at` column is); '—' for None."""
    if value is None:
        return "—"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    shown = value.strftime(FORMATS[precision]) + ("" if precision == "date" else " UTC")
    machine = value.strftime("%Y-%m-%d") if precision == "date" else value.isoformat(timespec="seconds") + "Z"
    return Markup('<time datetime="{}" title="{}" data-local="{}">{}</time>').format(
        machine, shown if precision != "date" else shown + " (UTC)", precision, escape(shown)
    )
