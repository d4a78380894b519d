"""Staff logins through Flask-Login: the session a cookie names, and what a session is bound to."""

import hashlib

from flask import Flask, request, session
from flask_babel import lazy_gettext

from mailer.core.extensions import login_manager
from mailer.staff import sessions as staff_sessions


def session_identifier() -> str:
    """What "strong" session protection binds a staff session to: the client's address and user agent."""
    base = f"{request.remote_addr}|{request.headers.get('User-Agent', '')}"
    return hashlib.sha512(base.encode("utf-8", "surrogateescape")).hexdigest()


def init_app(app: Flask) -> None:
    """Configure Flask-Login for the admin: where to log in, session protection and the user loader."""
    login_manager.login_view = "admin.login"
    login_manager.login_message = lazy_gettext("Please log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.localize_callback = str  # the lazy message, in the language of the request
    login_manager.session_protection = "strong"
    # Flask-Login's own identifier reads the raw X-Forwarded-For header, which any client can write; ours uses
    # the address ProxyFix resolved from the configured hops only. (No public hook exists for this.)
    login_manager._session_identifier_generator = session_identifier

    @login_manager.user_loader
    def load_user(user_id: str):
        # The signed cookie names a server-side session; an ended one (logout, "log out everywhere", a
        # password change) no longer logs anyone in, even from a copy of the cookie taken before.
        record = (
            staff_sessions.session_for_token(int(user_id), session.get(staff_sessions.COOKIE_KEY))
            if user_id.isdigit()
            else None
        )
        return record.user if record is not None and record.user.active else None
