"""Images of the media library, as mail and pages load them: content-hash names, cached for a year."""

from flask import abort, redirect, send_file

from mailer.core.extensions import limiter
from mailer.media.library import MIME_TYPES
from mailer.media.storage import CACHE_CONTROL, FILE_NAME, YEAR, LocalStorage, local_dir, storage
from mailer.public.blueprint import bp


@bp.get("/media/<name>")
@limiter.exempt  # every recipient's mail program loads these; a file name never changes its content
def media_file(name: str):
    """A stored image; its name is its content's hash, so it never changes and is cached as immutable.

    With the files in a bucket, a name not kept here (mail sent before the move) is sent there for good."""
    path = LocalStorage(local_dir()).path(name)
    if path is None:
        kept = storage()
        if not FILE_NAME.match(name) or isinstance(kept, LocalStorage):
            abort(404)
        response = redirect(kept.url(name), 301)
        response.headers["Cache-Control"] = f"public, max-age={YEAR}"
        return response
    response = send_file(path, mimetype=MIME_TYPES[name.rsplit(".", 1)[1]], max_age=YEAR, conditional=True)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
