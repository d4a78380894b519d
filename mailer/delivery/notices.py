"""Mail rendered from templates and sent through the one exit: a kind's own template pair, or the shared
notice layout (a heading, paragraphs, a list, one button) of privacy, staff and alert mail."""

from typing import Any

from flask import render_template

from mailer.delivery.outgoing import MessageKind, Outgoing, default_sender, send
from mailer.organisation import settings as organisation_settings

NOTICE_TEMPLATE = "email/privacy_message"


def send_templated(
    kind: MessageKind, template: str, to_addr: str, to_name: str | None, subject: str, **context: Any
) -> str:
    """Render `template`.txt and .html (with the organisation's name and address), send from the
    organisation's sender."""
    context = {
        "organisation": organisation_settings.name(),
        "postal_address": organisation_settings.postal_address(),
        **context,
    }
    return send(
        Outgoing(
            kind=kind,
            sender=default_sender(),
            to_addr=to_addr,
            to_name=to_name,
            subject=subject,
            text=render_template(f"{template}.txt", **context),
            html=render_template(f"{template}.html", **context),
        )
    )


def send_notice(kind: MessageKind, to_addr: str, to_name: str | None, subject: str, **context: Any) -> str:
    """Send the notice layout filled with `context` (heading, paragraphs, items, button, footnote)."""
    layout: dict[str, Any] = {
        "paragraphs": [],
        "items": [],
        "button_url": "",
        "button_label": "",
        "footnote": "",
    }
    return send_templated(kind, NOTICE_TEMPLATE, to_addr, to_name, subject, **{**layout, **context})
