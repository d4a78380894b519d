"""JSON errors for the API: {"error": message, "detail":
specifics}, for raised errors and failed routing alike."""

from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from mailer.api.blueprint import bp
from mailer.core import test_sends
from mailer.core.extensions import db

MESSAGES = {
    400: "The request could not be understood.",
    401: "Authentication required: send the header “Authorization: Bearer <API key>”.",
    403: "This API key may not do that.",
    404: "There is no such resource.",
    405: "This method is not allowed here.",
    409: "The request conflicts with the state of the resource.",
    413: "The request body is too large.",
    415: "Send the body as JSON with “Content-Type: application/json”.",
    422: "Some values are not valid.",
    429: "Too many requests for this API key.",
}
TEST_SENDS_SPENT = (
    "The key's rate limit (API_RATE_LIMIT) is exhausted, or the test sends of the staff member who created "
    "the key (TEST_SEND_RATE_LIMIT, one budget with the admin's tests); see Retry-After."
)
# Headers of a werkzeug error worth keeping on the JSON answer (Allow on 405, WWW-Authenticate on 401 …).
PASSED_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


class ApiError(Exception):
    """An error answer: status, a message for a person, optional details (e.g. per-field messages)."""

    def __init__(self, status: int, message: str | None = None, detail=None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message or MESSAGES.get(status, "The request failed.")
        self.detail = detail
        self.headers = headers or {}


def refuse_when_test_sends_spent() -> None:
    """A test send through the API spends the budget of the key's creator, shared with the admin's tests
    (core/test_sends.py): once it is spent, 429 with Retry-After."""
    wait = test_sends.wait_seconds()
    if wait is not None:
        raise ApiError(
            429,
            f"Test sends are limited to {test_sends.limit_text()} for each staff member; an API key spends "
            f"the budget of the staff member who created it. Try again in {wait} seconds.",
            {"retry_after": wait},
            headers={"Retry-After": str(wait)},
        )


def json_error(status: int, message: str, detail=None, headers: dict | None = None):
    """The one shape of every API error."""
    response = jsonify(error=message, detail=detail)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def http_error_response(exc: HTTPException):
    """A werkzeug/Flask HTTP error (abort, routing, body too large, rate limit) as a JSON answer."""
    status = exc.code or 500
    message = MESSAGES.get(status, exc.description or "The request failed.")
    detail: dict | None = None
    if status == 405:
        allowed = [m for m in (getattr(exc, "valid_methods", None) or []) if m not in ("HEAD", "OPTIONS")]
        detail = {"allowed": sorted(allowed)} if allowed else None
    elif status == 413:
        detail = {"max_bytes": request.max_content_length}
    elif status == 429:
        message = f"Too many requests for this API key ({exc.description}). Wait a moment and try again."
    headers = {name: value for name, value in exc.get_headers() if name in PASSED_HEADERS}
    return json_error(status, message, detail, headers)


@bp.before_app_request
def _unrouted_api_requests():
    """Unknown paths and wrong methods under the API prefix
    answer in JSON too (routing fails before the blueprint)."""
    prefix = current_app.extensions.get("mailer.api_prefix")
    exc = request.routing_exception
    if exc is None or not prefix or (request.path != prefix and not request.path.startswith(prefix + "/")):
        return None
    if exc.code is not None and exc.code < 400:
        return None  # a redirect (e.g. a trailing slash): let Flask answer it
    return http_error_response(exc)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return json_error(exc.status, exc.message, exc.detail, exc.headers)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code is not None and exc.code < 400:
        return exc
    return http_error_response(exc)


@bp.errorhandler(Exception)
def _unexpected_error(exc: Exception):
    current_app.logger.exception("unhandled error in the API")
    db.session.rollback()
    return json_error(500, "Something went wrong on our side. It has been logged; please try again later.")
