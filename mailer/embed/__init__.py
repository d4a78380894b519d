"""Embeddable sign-up forms: hosted page, plain-HTML snippet target, JSON for the small script.

The view module is imported here, at the top, so that the blueprint exported below carries its routes; the
factory registers it.
"""

from mailer.embed import views
from mailer.embed.blueprint import bp

VIEW_MODULES = (views,)

__all__ = ["VIEW_MODULES", "bp"]
