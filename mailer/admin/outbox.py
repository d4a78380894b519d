"""The local outbox (embedded mode): every message the app 'sent', browsable."""

import base64
import re
from email import policy
from email.parser import BytesParser

from flask import current_app, make_response, render_template, request
from flask_login import current_user
from markupsafe import escape
from sqlalchemy import func, select

from mailer.admin.blueprint import bp
from mailer.admin.outbox_links import LinkFilter
from mailer.core.extensions import db
from mailer.core.web import db_int
from mailer.delivery.models import OutboxMessage
from mailer.subscriptions.forms import form_by_slug
from mailer.tracking.events import PIXEL_GIF, click_destination

HTML_PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: https: http:; "
    "frame-ancestors 'self'; sandbox"
)
BLANK_IMAGE = "data:image/gif;base64," + base64.b64encode(PIXEL_GIF).decode()


def _message(public_id: str) -> OutboxMessage:
    return db.one_or_404(select(OutboxMessage).where(OutboxMessage.public_id == public_id))


def _parts(raw: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    """Text part, HTML part and headers of a stored message."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    return (text.get_content() if text else "", html.get_content() if html else "", list(msg.items()))


@bp.get("/outbox")
def outbox():
    """Newest messages first."""
    page = max(1, request.args.get("page", 1, type=db_int) or 1)
    total = db.session.execute(select(func.count(OutboxMessage.id))).scalar_one()
    messages = (
        db.session.execute(
            select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(50).offset((page - 1) * 50)
        )
        .scalars()
        .all()
    )
    return render_template(
        "admin/outbox/index.html", messages=messages, page=page, total=total, demo=form_by_slug("demo")
    )


@bp.get("/outbox/<public_id>")
def outbox_show(public_id: str):
    """One message: rendered HTML (sandboxed), text part, headers and raw source."""
    message = _message(public_id)
    text, _html, headers = _parts(message.raw)
    links = LinkFilter(current_user.role)
    raw = links.message(message.raw)
    hidden = links.hidden
    return render_template(
        "admin/outbox/show.html",
        message=message,
        text=links.text(text),
        raw=raw,
        headers=[(name, links.text(str(value))) for name, value in headers],
        hidden=hidden,
    )


@bp.get("/outbox/<public_id>/html")
def outbox_html(public_id: str):
    """The HTML part alone, for a sandboxed iframe: no scripts, no forms, no same-origin access."""
    _text, html, _headers = _parts(_message(public_id).raw)
    html = LinkFilter(current_user.role).html(_without_tracking(html)) if html else "<p>(no HTML part)</p>"
    response = make_response(html)
    response.headers["Content-Security-Policy"] = HTML_PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _without_tracking(html: str) -> str:
    """Staff reading a stored message must not count as its recipient opening or clicking it: our open pixel
    becomes a blank image and our click redirects the links they lead to (the raw source keeps them as
    sent)."""
    base = re.escape(current_app.config["MAILER_BASE_URL"].rstrip("/"))
    html = re.sub(base + r"/t/o/[^\"'\s<>]+", BLANK_IMAGE, html)
    return re.sub(
        base + r"/t/c/([^\"'\s<>]+)", lambda m: str(escape(click_destination(m.group(1)) or "#")), html
    )
