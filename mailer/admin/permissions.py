"""The one permission map of the admin: endpoint → roles allowed per method, enforced in one before_request hook.

Rules are (endpoint pattern, {method: roles}); the first pattern that matches wins. Endpoints nobody listed
(including pages other modules add later) fall back to DEFAULT: every staff role may look, editors may act.
"""
from fnmatch import fnmatchcase

from flask import abort, has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from mailer.extensions import db
from mailer.models.staff import ROLES

ALL = ROLES
EDITORS = ("owner", "admin", "marketer")
MANAGERS = ("owner", "admin")
PRIVACY_READERS = ("owner", "admin", "privacy")
PRIVACY_HANDLERS = ("owner", "privacy")  # handle requests and restrictions, see personal exports

RULES: list[tuple[str, dict[str, tuple[str, ...]]]] = [
    ("admin.login", {"GET": ALL, "POST": ALL}),
    ("admin.setup", {"GET": ALL, "POST": ALL}),
    ("admin.invite_accept", {"GET": ALL, "POST": ALL}),
    ("admin.logout", {"POST": ALL}),
    # Privacy requests: visible to admins, handled only by privacy officers (and the owner).
    ("admin.privacy_request_export", {"GET": PRIVACY_HANDLERS}),
    ("admin.privacy_contact_reveal", {"POST": PRIVACY_READERS}),
    ("admin.privacy_contact_*", {"GET": PRIVACY_HANDLERS, "POST": PRIVACY_HANDLERS}),
    ("admin.privacy*", {"GET": PRIVACY_READERS, "POST": PRIVACY_HANDLERS}),
    ("admin.retention*", {"GET": PRIVACY_READERS, "POST": PRIVACY_HANDLERS}),
    ("admin.audit*", {"GET": PRIVACY_READERS}),
    ("admin.settings*", {"GET": PRIVACY_READERS, "POST": PRIVACY_READERS}),
    ("admin.staff*", {"GET": MANAGERS, "POST": MANAGERS}),
    # Any export of data, from any module: never marketers or viewers.
    ("admin.*export*", {"GET": PRIVACY_READERS, "POST": PRIVACY_READERS}),
    # API keys open every contact to an integration.
    ("admin.api_key*", {"GET": MANAGERS, "POST": MANAGERS}),
    # Editing pages: even showing the form is for editors.
    ("admin.*_new", {"GET": EDITORS, "POST": EDITORS}),
    ("admin.*_edit", {"GET": EDITORS, "POST": EDITORS}),
    ("admin.campaign_send", {"GET": EDITORS, "POST": EDITORS}),
    ("admin.campaign_schedule", {"GET": EDITORS, "POST": EDITORS}),
]
DEFAULT = {"GET": ALL, "POST": EDITORS}
METHOD_ALIASES = {"HEAD": "GET", "OPTIONS": "GET", "PUT": "POST", "PATCH": "POST", "DELETE": "POST"}


def rule_for(endpoint: str) -> dict[str, tuple[str, ...]]:
    """The first rule matching an endpoint, else the default."""
    for pattern, methods in RULES:
        if fnmatchcase(endpoint, pattern):
            return methods
    return DEFAULT


def allowed(role: str | None, endpoint: str, method: str = "GET") -> bool:
    """Whether a role may use an endpoint with a method."""
    method = METHOD_ALIASES.get(method.upper(), method.upper())
    return role in rule_for(endpoint).get(method, ())


def _restricted_contact_target() -> bool:
    """A change aimed at a restricted contact (Art. 18): only privacy officers may make it."""
    public_id = (request.view_args or {}).get("public_id")
    if not public_id or not (request.endpoint or "").startswith("admin.contact"):
        return False
    from mailer.models import Contact

    status = db.session.execute(select(Contact.status).where(Contact.public_id == public_id)).scalar_one_or_none()
    return status == "restricted"


def check_permission():
    """before_request: refuse (403) any admin page or action the current role may not use."""
    endpoint = request.endpoint or ""
    if endpoint in ("admin.login", "admin.setup", "admin.invite_accept", "admin.static") \
            or not current_user.is_authenticated:
        return None
    role = current_user.role
    if not allowed(role, endpoint, request.method):
        abort(403)
    changes = request.method not in ("GET", "HEAD", "OPTIONS")
    if changes and role not in PRIVACY_HANDLERS and _restricted_contact_target():
        abort(403, "This contact is restricted (Art. 18): only a privacy officer can change it.")
    return None


def inject_permissions():
    """Templates ask `allowed_to('admin.endpoint', 'POST')` to hide what the user may not do."""
    if not has_request_context():
        return {}

    def allowed_to(endpoint: str, method: str = "GET") -> bool:
        return current_user.is_authenticated and allowed(current_user.role, endpoint, method)

    return {"allowed_to": allowed_to}
