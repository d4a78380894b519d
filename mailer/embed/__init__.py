"""Embeddable sign-up forms: hosted page, plain-HTML snippet target, JSON for the small script."""

from flask import Blueprint

bp = Blueprint("embed", __name__)

from mailer.embed import views  # noqa: E402,F401  (routes attach to bp)
