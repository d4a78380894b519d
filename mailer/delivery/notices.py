"""The shared notice layout (heading, paragraphs, a list, one button) of privacy, staff and alert mail."""

from flask import current_app, render_template

from mailer.delivery.outgoing import MessageKind, Outgoing, default_sender, send


def send_notice(kind: MessageKind, to_addr: str, to_name: str | None, subject: str, **context) -> str:
    """Render the notice layout with `context` and send it through the one exit; returns the Message-ID."""
    config = current_app.config
    context = {
        "paragraphs": [],
        "items": [],
        "button_url": "",
        "button_label": "",
        "footnote": "",
        "organisation": config["MAILER_ORGANISATION"],
        "postal_address": config["MAILER_POSTAL_ADDRESS"],
        **context,
    }
    return send(
        Outgoing(
            kind=kind,
            sender=default_sender(),
            to_addr=to_addr,
            to_name=to_name,
            subject=subject,
            text=render_template("email/privacy_message.txt", **context),
            html=render_template("email/privacy_message.html", **context),
        )
    )
