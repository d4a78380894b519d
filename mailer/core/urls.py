"""Absolute public URLs built outside a request (in workers), from MAILER_BASE_URL."""

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    """The public URL of an endpoint, as a recipient's mail client must see it."""
    base = urlsplit(current_app.config["MAILER_BASE_URL"])
    if has_request_context() and not current_app.config["MAILER_BASE_URL"]:
        return url_for(endpoint, _external=True, **values)
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
