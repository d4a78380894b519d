"""Web helpers every door shares: security headers, error pages, response floors, input checks, converters."""

import time
from functools import wraps

from flask import Flask, abort, current_app, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, UnicodeConverter

from mailer.core.extensions import db
from mailer.core.sentences import N_, Sentence, shown
from mailer.core.text import has_controls, header_safe

UPLOAD_FORM_ALLOWANCE = 64 * 1024  # the multipart framing and the form's other fields around an uploaded file
BASE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'"
)

# English (JSON answers and the API); error pages show them in the visitor's language (core.sentences).
ERROR_MESSAGES = {
    400: N_("The request could not be understood. Please check what you entered and try again."),
    403: N_("You don't have permission to do that."),
    404: N_("We couldn't find that page."),
    405: N_("That action isn't available here."),
    413: N_("What you sent is too large."),
    415: N_("This page accepts only what its own form sends."),
    429: N_("Too many attempts in a short time. Please wait a few minutes and try again."),
    500: N_("Something went wrong on our side. It has been logged; please try again later."),
}
PAGE_MESSAGES = [Sentence(message) for message in ERROR_MESSAGES.values()]
NUL_REFUSED = Sentence(N_("What you sent contains a NUL character, which no field accepts."))
CONTROLS_REFUSED = Sentence(
    N_(
        "What you sent contains a NUL character or another control character (such as ESC or BEL), "
        "which no field accepts. Please go back and type it again."
    )
)
SESSION_EXPIRED = Sentence(
    N_("Your session expired or the form was already used. Please go back, reload the page and try again.")
)


def wants_json() -> bool:
    """Whether the client asked for JSON (the embed script and the API do)."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(code: int, message: str | None = None):
    """A friendly error page, or JSON for clients that asked for it."""
    message = message or ERROR_MESSAGES.get(code, "Something went wrong.")
    if wants_json():
        return jsonify(ok=False, error=message), code
    return render_template("error.html", code=code, message=shown(message)), code


def with_response_floor(view):
    """Answer no sooner than SIGNUP_RESPONSE_FLOOR_MS after the view starts, whatever it did or answered.

    Every public endpoint that takes an address wears this, so the response time does not tell a known address
    from an unknown one; the address-dependent work is kept small (or queued for a worker) so it stays under
    it.
    """

    @wraps(view)
    def floored(*args, **kwargs):
        started = time.monotonic()
        try:
            return view(*args, **kwargs)
        finally:
            pad_to_floor(started, "SIGNUP_RESPONSE_FLOOR_MS")

    return floored


def pad_to_floor(started: float, setting: str) -> None:
    """Return no sooner than `setting` milliseconds after
    `started`: padding an answer, not waiting for anything."""
    remaining = current_app.config[setting] / 1000 - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


def retry_after_only_when_refused(response):
    """Retry-After means "come back later" (RFC 9110 §10.2.3): only a 429 or 503 carries it."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def _security_headers(response):
    """Headers every response carries; embeddable form pages relax framing only."""
    return apply_security_headers(
        response, request.blueprint, request.is_secure, current_app.config.get("MEDIA_IMAGE_ORIGIN", "")
    )


def referrer_policy(blueprint: str | None) -> str:
    """The admin sends its own pages as referrer to itself only: over HTTPS the CSRF check
    (WTF_CSRF_SSL_STRICT) refuses a POST without a same-origin Referer. Everywhere else no referrer at all:
    recipients' pages carry their signed tokens in the URL, and nothing else needs one."""
    return "same-origin" if blueprint == "admin" else "no-referrer"


def apply_security_headers(response, blueprint: str | None, secure: bool, image_origin: str = ""):
    """The security headers of a response of `blueprint` (also used by the recipient fast path, outside
    Flask); `image_origin` is where the media library's images come from when they are not on this site."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", referrer_policy(blueprint))
    response.headers.setdefault(
        "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    )
    if "Content-Security-Policy" not in response.headers:
        framing = "" if blueprint == "embed" else "; frame-ancestors 'none'"
        policy = BASE_CSP.replace("img-src 'self' data:", f"img-src 'self' data: {image_origin}".rstrip())
        response.headers["Content-Security-Policy"] = policy + framing
        if blueprint != "embed":
            response.headers.setdefault("X-Frame-Options", "DENY")
    if secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if blueprint in ("admin", "public"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


DB_INT_MAX = 2**31 - 1  # the largest id or count a database INTEGER column holds on every backend


def db_int(value: str) -> int:
    """int() for numbers from a query string (`request.args.get(name, type=db_int)`): a number no database
    integer can hold is treated like any other invalid value (ValueError: the default), not an overflow deep
    in SQL."""
    number = int(value)
    if abs(number) > DB_INT_MAX:
        raise ValueError("out of range")
    return number


class DbIntConverter(IntegerConverter):
    """`<int:…>` path parts larger than a database integer
    match no route (404) instead of overflowing in SQL."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


PATH_CHARACTER = (
    "[^/\\x00-\\x1f\\x7f]"  # what a `<name>` path part may hold (TextConverter; the recipient fast path)
)


class TextConverter(UnicodeConverter):
    """The default `<name>` path part, without control characters: a NUL (which PostgreSQL refuses in any text
    parameter) or another control character in an id or token matches no route (404)."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", PATH_CHARACTER, 1)


def _has_nul(values) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values.getlist(key)) for key in values)


def _has_controls(values) -> bool:
    """A control character in any field name or value (line breaks and tabs may be in text areas)."""
    return any(
        has_controls(key) or any(has_controls(value, multiline=True) for value in values.getlist(key))
        for key in values
    )


def accepts_upload(config_key: str, what: str, raw_types: tuple[str, ...] = ()):
    """Mark a view that takes a file larger than MAX_CONTENT_LENGTH:
    up to `config_key` MB (read per request), as multipart/form-data or as a whole body of `raw_types`."""

    def mark(view):
        view.upload_limit = (config_key, what)
        view.upload_raw_types = raw_types
        return view

    return mark


def reads_own_body(view):
    """Mark a view that reads and checks its own raw body (a machine's signed POST, e.g. a provider webhook):
    the page rules below (JSON refused with 415, the early 413) leave it alone; it caps and answers itself."""
    view.reads_own_body = True
    return view


def _reads_own_body() -> bool:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "reads_own_body", False)


def _upload_limit() -> tuple[int, str] | None:
    """(megabytes, what) when the matched view takes a large upload (accepts_upload), else None."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    config_key, what = getattr(view, "upload_limit", (None, ""))
    return (current_app.config[config_key], what) if config_key else None


def is_upload_body() -> bool:
    """Whether the request's body is the matched view's upload: multipart, or one of its raw types (which a
    view reads as a stream, never whole)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "upload_limit", None) is None:
        return False
    return request.mimetype == "multipart/form-data" or request.mimetype in getattr(
        view, "upload_raw_types", ()
    )


def _raise_upload_limit(endpoint, values) -> None:
    """Give a view marked with accepts_upload its own size limit, before anything (CSRF) reads the body.

    Only for a multipart body, where the file is streamed to disk and the other fields stay bounded by
    MAX_FORM_MEMORY_SIZE, or a raw body of the view's `raw_types` (read as a stream); anything else (a
    urlencoded form is read into memory whole) keeps MAX_CONTENT_LENGTH.
    """
    upload = _upload_limit()
    if upload is not None and is_upload_body():
        request.max_content_length = upload[0] * 1024 * 1024 + UPLOAD_FORM_ALLOWANCE


def _too_large_message() -> str | None:
    """What a 413 says: for an upload, its limit and what to do."""
    upload = _upload_limit()
    if upload is None or not is_upload_body():
        return None
    return f"The {upload[1]} is larger than {upload[0]} MB. Split it into smaller files and upload each."


def _refuse_unreadable_input():
    """Too large: 413 even where the view never reads the body. JSON outside the API: 415 (pages take forms).
    A NUL character in a query string, or any control character but line breaks and tabs in a staff form (no
    field takes one; PostgreSQL refuses a NUL, and ESC or BEL would reach mail headers raw): 400. The API, the
    sign-up forms and the recipients' pages answer these themselves, field by field."""
    if _reads_own_body() or request.url_rule is None:
        return  # no route: the 404/405 answers (in the API, as JSON) and the body is never read
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        abort(413)
    if request.blueprint == "api":
        return  # the API checks its input itself
    if request.is_json and request.method not in ("GET", "HEAD", "OPTIONS"):
        abort(415)
    if _has_nul(request.args):
        abort(400, NUL_REFUSED())
    if request.blueprint == "admin" and request.method == "POST" and _has_controls(request.form):
        abort(400, CONTROLS_REFUSED())


def init_app(app: Flask) -> None:
    """Register URL converters, input checks, security headers
    and error handlers (the factory adds blueprints)."""
    app.url_map.converters.update(
        int=DbIntConverter, default=TextConverter, string=TextConverter
    )  # before rules
    app.url_value_preprocessor(_raise_upload_limit)  # runs after routing, before every before_request hook
    app.before_request(_refuse_unreadable_input)
    app.after_request(_security_headers)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(400, SESSION_EXPIRED())

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code is None or 300 <= exc.code < 400:
            return exc
        message = ERROR_MESSAGES.get(exc.code)
        if exc.code == 400 and exc.description and exc.description != type(exc).description:
            message = exc.description  # our own aborts carry a message written for people
        elif exc.code == 413:
            message = _too_large_message() or message
        elif isinstance(exc, RateLimitExceeded) and exc.limit.error_message:
            message = exc.description  # a limit that says what it limits
        return error_response(exc.code, message)

    @app.errorhandler(Exception)
    def unexpected_error(exc):
        app.logger.exception("unhandled error")
        db.session.rollback()
        return error_response(500)

    @app.context_processor
    def inject_globals():
        return {
            "embedded_outbox": not app.config["SMTP_URL"],
        }


def request_origin() -> tuple[str | None, str]:
    """The client's IP address and user agent as the ledger
    stores them (no control characters, 512 at most)."""
    return request.remote_addr, header_safe(request.headers.get("User-Agent", "")[:1024])[:512]
