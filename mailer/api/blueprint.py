"""The API blueprint (mounted at /api/v1): Bearer API keys, per-key rate limits, JSON errors only.

Every answer is JSON. Errors are {"error": "<what went wrong, for a person>", "detail": <specifics or null>}
with a 4xx status for anything the caller can fix; a 500 only ever means a bug on our side.
Endpoints are declared with `mailer.api.routing.api_route` (its docstring shows the pattern).
"""

from flask import Blueprint, current_app, g

from mailer.core.extensions import csrf, limiter

bp = Blueprint("api", __name__)

# No cookie or session authenticates an API request (only the Authorization header does), so a cross-site page
# cannot make a browser send a request that acts with someone's credentials: CSRF tokens would protect
# nothing.
csrf.exempt(bp)


def _limit_key() -> str:
    """Rate limits count per API key (set by authentication before the view runs)."""
    return f"api-key:{g.api_key_prefix}"


per_key_limit = limiter.shared_limit(
    lambda: current_app.config["API_RATE_LIMIT"], scope="api", key_func=_limit_key
)


@bp.record_once
def _remember_prefix(state) -> None:
    state.app.extensions["mailer.api_prefix"] = (state.url_prefix or "").rstrip("/")


@bp.after_request
def _no_store(response):
    """API answers hold personal data: never cache them."""
    response.headers["Cache-Control"] = "no-store"
    return response
