"""Pages for recipients: confirmation (double opt-in), health check, landing page."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from mailer.public import views  # noqa: E402,F401  (routes attach to bp)
from mailer.public import preferences, tracking, unsubscribe  # noqa: E402,F401
from mailer.public import privacy  # noqa: E402,F401
