"""Blueprints, security headers, error pages and the staff session loader."""
from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException

from mailer.extensions import db, login_manager

BASE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "object-src 'none'; base-uri 'none'")

ERROR_MESSAGES = {
    400: "The request could not be understood. Please check what you entered and try again.",
    403: "You don't have permission to do that.",
    404: "We couldn't find that page.",
    405: "That action isn't available here.",
    413: "What you sent is too large.",
    429: "Too many attempts in a short time. Please wait a few minutes and try again.",
    500: "Something went wrong on our side. It has been logged; please try again later.",
}


def wants_json() -> bool:
    """Whether the client asked for JSON (the embed script and the API do)."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(code: int, message: str | None = None):
    """A friendly error page, or JSON for clients that asked for it."""
    message = message or ERROR_MESSAGES.get(code, "Something went wrong.")
    if wants_json():
        return jsonify(ok=False, error=message), code
    return render_template("error.html", code=code, message=message), code


def retry_after_only_when_refused(response):
    """Retry-After means "come back later" (RFC 9110 §10.2.3): only a 429 or 503 carries it."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def _security_headers(response):
    """Headers every response carries; embeddable form pages relax framing only."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
    if "Content-Security-Policy" not in response.headers:
        framing = "" if request.blueprint == "embed" else "; frame-ancestors 'none'"
        response.headers["Content-Security-Policy"] = BASE_CSP + framing
        if request.blueprint != "embed":
            response.headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.blueprint in ("admin", "public"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    """Register blueprints, headers and error handlers."""
    from mailer.admin import bp as admin_bp
    from mailer.api import bp as api_bp
    from mailer.embed import bp as embed_bp
    from mailer.models import StaffUser
    from mailer.public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(embed_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.after_request(_security_headers)

    login_manager.login_view = "admin.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        user = db.session.get(StaffUser, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(400, "Your session expired or the form was already used. Please go back, reload "
                                   "the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code is None or 300 <= exc.code < 400:
            return exc
        message = ERROR_MESSAGES.get(exc.code)
        if exc.code == 400 and exc.description and exc.description != BadRequest.description:
            message = exc.description  # our own aborts carry a message written for people
        return error_response(exc.code, message)

    @app.errorhandler(Exception)
    def unexpected_error(exc):
        app.logger.exception("unhandled error")
        db.session.rollback()
        return error_response(500)

    @app.context_processor
    def inject_globals():
        return {"organisation": app.config["MAILER_ORGANISATION"], "embedded_outbox": not app.config["SMTP_URL"]}
