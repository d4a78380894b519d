"""Images of the media library, as mail and pages load them: content-hash names, cached for a year."""

from flask import abort, send_file

from mailer.core.extensions import limiter
from mailer.media.library import MIME_TYPES, file_path
from mailer.public.blueprint import bp

YEAR = 365 * 24 * 3600


@bp.get("/media/<name>")
@limiter.exempt  # every recipient's mail program loads these; a file name never changes its content
def media_file(name: str):
    """A stored image; its name is its content's hash, so it never changes and is cached as immutable."""
    path = file_path(name)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=MIME_TYPES[name.rsplit(".", 1)[1]], max_age=YEAR, conditional=True)
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
