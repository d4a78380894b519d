"""Unsubscribe links (REQUIREMENTS A3-A6): GET shows a page, POST (RFC 8058 one-click) acts."""

import time

from flask import render_template, request

from mailer.core import i18n, metrics
from mailer.core.extensions import csrf, limiter
from mailer.organisation import settings as organisation_settings
from mailer.public.blueprint import bp
from mailer.public.views import public_limit, request_context
from mailer.subscriptions import unsubscribe as service


# No trailing slash: POST to the exact List-Unsubscribe URL must answer 2xx, not 308 (A4).
@bp.get("/u/<token>")
@limiter.limit(public_limit)
def unsubscribe_page(token: str):
    """One button and a link to the preference centre; a GET never changes anything (A5)."""
    outcome = service.describe(token)
    i18n.use_language(outcome.language)
    return render_template(
        "public/unsubscribe.html", outcome=outcome, token=token
    ), 400 if outcome.status == "invalid" else 200


@bp.post("/u/<token>")
@csrf.exempt  # RFC 8058: mail providers POST without cookies or CSRF token; the signed token is the proof
@limiter.exempt  # one-click POSTs come from a few mail-provider servers on behalf of many people
def unsubscribe_post(token: str):
    """Unsubscribe in this one request, answer 2xx, no redirect; repeating it changes nothing (A3, A6)."""
    started = time.perf_counter()
    one_click = request.form.get("List-Unsubscribe", "") == "One-Click"
    ctx = request_context("one-click-unsubscribe" if one_click else "unsubscribe-page")
    outcome = service.unsubscribe(token, ctx)
    metrics.recipient_request("unsubscribe", time.perf_counter() - started)
    status = 400 if outcome.status == "invalid" else 200
    if one_click:  # a mail provider's POST (RFC 8058): nobody sees the answer but its status
        return one_click_answer(outcome), status, {"Content-Type": "text/plain; charset=utf-8"}
    i18n.use_language(outcome.language)
    return render_template("public/unsubscribe_done.html", outcome=outcome), status


def one_click_answer(outcome: service.UnsubscribeOutcome) -> str:
    """The done page's words as plain text (no page to render for a machine, thousands of times a minute)."""
    if outcome.status == "invalid":
        return "This unsubscribe link doesn't work. Nothing has changed.\n"
    if outcome.everything:
        organisation = organisation_settings.name()
        text = f"You're unsubscribed: we won't send you any more emails from {organisation}."
    else:
        text = f"You're unsubscribed: we won't send you “{outcome.list_name}” again."
    return text + (" (You had already unsubscribed.)" if outcome.status == "already" else "") + "\n"
