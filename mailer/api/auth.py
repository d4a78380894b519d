"""Authentication of every API request by its Bearer key, the write role, and the request body limit."""

from flask import current_app, g, request

from mailer.api.blueprint import bp
from mailer.api.errors import ApiError
from mailer.api.inputs import is_id
from mailer.core.web import is_upload_body
from mailer.staff import api_keys
from mailer.subscriptions import throttle

# Endpoints anyone may read: the API's own description.
OPEN_ENDPOINTS = {"api.openapi_document"}
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# POSTs that change nothing (their input is too rich for a query string): read-only keys may make them.
READING_POSTS = {
    "api.conditions_count",
    "api.bulk_preview",
    "api.list_export",
    "api.segment_export",
    "api.tx_template_preview",
    "api.tx_template_draft_preview",
    "api.form_confirmation_email_preview",
    "api.list_reconfirmation_email_preview",
}
# Failed authentications per client IP before answers turn to 429 (keys can't be guessed; this just sheds
# noise).
FAILED_AUTH_LIMIT = "30 per minute"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mailer API"'}


@bp.before_request
def authenticate_request():
    """Find the request's key (401 without a valid one),
    refuse writes to read-only keys (403), cap the body."""
    if not is_upload_body():
        request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]
    # else: an upload, bounded by its own setting (mailer.core.web raised the limit before this ran)
    if request.endpoint in OPEN_ENDPOINTS:
        return
    try:
        key = api_keys.authenticate(request.headers.get("Authorization"))
    except api_keys.AuthenticationFailedError as exc:
        if not throttle.allow(FAILED_AUTH_LIMIT, "api-auth-failed", request.remote_addr or ""):
            raise ApiError(429, "Too many failed authentications from this address. Wait a minute.") from None
        raise ApiError(401, str(exc), headers=CHALLENGE) from None
    if request.method not in READ_METHODS and request.endpoint not in READING_POSTS and not key.can_write:
        raise ApiError(
            403,
            "This API key is read-only: ask an administrator for a read-and-write key to make changes.",
            {"role": key.role},
        )
    g.api_key = key
    g.api_key_prefix = key.prefix
    api_keys.note_use(key)
    if any(not is_id(value) for value in (request.view_args or {}).values()):
        raise ApiError(
            404, "There is no resource with this id."
        )  # e.g. a NUL byte, which PostgreSQL can't compare


def via() -> dict:
    """How a change made through the API is named in the audit log: the API and the key's prefix."""
    return {"via": "api", "api_key": g.api_key_prefix}
