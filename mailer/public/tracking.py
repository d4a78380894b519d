"""Tracking endpoints: the open pixel and click redirects (consent is checked when events are written)."""

from flask import Response, redirect, request

from mailer.core.extensions import limiter
from mailer.core.web import error_response
from mailer.public.blueprint import bp
from mailer.tracking import events as tracking

UNKNOWN_LINK = (
    "This link doesn't lead anywhere we know. It may have been copied incompletely; "
    "please use the links in the email itself."
)


def pixel_response() -> Response:
    """The 1×1 GIF every pixel request gets (also from the fast path)."""
    response = Response(tracking.PIXEL_GIF, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.get("/t/o/<token>")
@limiter.exempt  # mail providers' image proxies fetch for many people from few addresses
def track_open(token: str):
    """A 1×1 GIF, always; the open is recorded only for a genuine token of a consenting contact."""
    tracking.track_open(token, request.headers.get("User-Agent"))
    return pixel_response()


@bp.get("/t/c/<token>")
@limiter.exempt  # many people click through the same company proxies
def track_click(token: str):
    """Redirect to the campaign link the signed token names; anything else goes nowhere (no open redirect)."""
    target = tracking.track_click(token, request.headers.get("User-Agent"))
    if target is None:
        return error_response(404, UNKNOWN_LINK)
    return redirect(target.url, code=302)


@bp.get("/t/a/<campaign_public_id>/<int:link_id>")
@limiter.exempt  # many people click through the same company proxies
def track_anonymous_click(campaign_public_id: str, link_id: int):
    """A campaign link without any recipient part (counted only when TRACKING_ANONYMOUS_COUNTS is on)."""
    url = tracking.track_anonymous_click(campaign_public_id, link_id)
    if url is None:
        return error_response(404, UNKNOWN_LINK)
    return redirect(url, code=302)
