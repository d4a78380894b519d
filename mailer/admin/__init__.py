"""The staff admin: server-rendered pages behind login and roles (one permission map: permissions.py)."""

from flask import Blueprint

from mailer.admin.permissions import check_permission, inject_permissions

bp = Blueprint("admin", __name__)
# One hook sends visitors to the login page and checks every admin page and action against the permission map.
bp.before_request(check_permission)
bp.app_context_processor(inject_permissions)

from mailer.admin import auth, contacts, dashboard, imports, lists, outbox, signup_forms  # noqa: E402,F401
from mailer.admin import campaign_sending, campaign_uncertain, campaigns, layouts  # noqa: E402,F401
from mailer.admin import analytics  # noqa: E402,F401
from mailer.admin import deliverability  # noqa: E402,F401
from mailer.admin import audit, privacy, settings, staff_users  # noqa: E402,F401
from mailer.admin import api_keys  # noqa: E402,F401
from mailer.admin import account, passkeys  # noqa: E402,F401
from mailer.admin.auth import hold_for_second_factor, inject_enrolment_state  # noqa: E402

# After the permission check: whoever's role needs a second factor uses nothing else until they have set one up.
bp.before_request(hold_for_second_factor)
bp.app_context_processor(inject_enrolment_state)
