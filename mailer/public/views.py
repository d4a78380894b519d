"""Recipient-facing views: parse, call a service, render."""

from flask import current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import text

from mailer.consent.ledger import RequestContext
from mailer.core import i18n
from mailer.core.extensions import csrf, db, limiter
from mailer.core.web import request_origin, with_response_floor
from mailer.public.blueprint import bp
from mailer.subscriptions import signup


def request_context(source: str) -> RequestContext:
    """The door, IP and user agent of the current request, for the ledger."""
    ip, user_agent = request_origin()
    return RequestContext(source=source, ip=ip, user_agent=user_agent)


def public_limit() -> str:
    return current_app.config["PUBLIC_RATE_LIMIT"]


@bp.get("/")
def index():
    """A plain landing page: where recipients and staff go."""
    return render_template("public/index.html")


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """200 when the database and the broker answer, else 503 with what failed."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means unhealthy
        checks["database"] = f"error: {exc.__class__.__name__}"
    broker = current_app.extensions["mailer.workers"].broker
    try:
        client = getattr(broker, "client", None)
        if client is not None:
            client.ping()
        checks["broker"] = "ok"
    except Exception as exc:  # any failure means unhealthy
        checks["broker"] = f"error: {exc.__class__.__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", **checks), 200 if healthy else 503


@bp.route("/confirm/<token>", methods=["GET"])
@limiter.limit(public_limit)
def confirm(token: str):
    """Show what the link confirms, with a button; a GET never changes anything (G2)."""
    outcome = signup.check_confirmation(token)
    i18n.use_language(outcome.language)
    status = 200 if outcome.status in ("pending", "already") else 410 if outcome.status == "expired" else 404
    return render_template("public/confirm.html", outcome=outcome, token=token), status


@bp.route("/confirm/<token>", methods=["POST"])
@csrf.exempt  # the signed token in the URL is the proof; no cookie is needed (works with cookies off)
@limiter.limit(public_limit)
def confirm_post(token: str):
    """Complete the double opt-in."""
    outcome = signup.confirm(token, request_context("public:confirm"))
    if outcome.status == "confirmed" and outcome.next_url:
        # Only a URL staff stored on the form (never one from the request): no open redirect.
        return redirect(outcome.next_url, code=303)
    i18n.use_language(outcome.language)
    status = (
        200 if outcome.status in ("confirmed", "already") else 410 if outcome.status == "expired" else 404
    )
    return render_template("public/confirmed.html", outcome=outcome), status


@bp.route("/confirm/resend", methods=["POST"])
@csrf.exempt  # same answer whatever is submitted; rate limited
@limiter.limit("5 per hour")
@with_response_floor
def confirm_resend():
    """Send a fresh confirmation link; the answer (and its time) never says whether the address is known."""
    resend_token = request.form.get("resend", "")
    if resend_token:
        signup.resend_from_token(resend_token)
    else:
        try:
            signup.resend_for_address(request.form.get("email", ""))
        except signup.SignupError as exc:
            return render_template(
                "public/confirm.html",
                outcome=signup.ConfirmOutcome("invalid"),
                error=str(exc),
                email=request.form.get("email", "")[:254],
            ), 400
    return redirect(url_for("public.confirm_resent"), code=303)


@bp.get("/confirm/resent")
def confirm_resent():
    """Acknowledgement after a resend request."""
    return render_template("public/resent.html")
