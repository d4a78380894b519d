"""The staff admin: server-rendered pages behind login and roles."""
from functools import wraps

from flask import Blueprint, abort, has_request_context, request
from flask_login import current_user

from mailer.extensions import login_manager

bp = Blueprint("admin", __name__)

OPEN_ENDPOINTS = {"admin.login", "admin.setup", "admin.invite_accept"}  # the invite's signed link is the proof
EDITOR_ROLES = ("owner", "admin", "marketer")


@bp.before_request
def require_login():
    """Every admin page needs a logged-in staff member, except login and first-run setup."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def require_role(*roles: str):
    """Refuse (403) staff whose role is not among `roles`."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


@bp.app_context_processor
def inject_roles():
    """Templates hide actions the current user may not take."""
    if not has_request_context():
        return {}
    can_edit = current_user.is_authenticated and current_user.role in EDITOR_ROLES
    return {"can_edit": can_edit}


from mailer.admin import auth, contacts, dashboard, imports, lists, outbox, signup_forms  # noqa: E402,F401
from mailer.admin import campaign_sending, campaigns, layouts  # noqa: E402,F401
from mailer.admin import analytics  # noqa: E402,F401
from mailer.admin import deliverability  # noqa: E402,F401
from mailer.admin import audit, privacy, settings, staff_users  # noqa: E402,F401
from mailer.admin.permissions import check_permission, inject_permissions  # noqa: E402

# One hook checks every admin page and action against the permission map (after require_login).
bp.before_request(check_permission)
bp.app_context_processor(inject_permissions)
from mailer.admin import api_keys  # noqa: E402,F401
