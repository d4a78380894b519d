"""The admin's language: the one the staff member chose on their account page, else their browser's.

English is what a browser asking for none of the shipped languages gets (mailer/core/i18n.py). Runs before the
permission check, so the login page, a refusal and every page after it are in the same language.
"""

from flask_babel import lazy_gettext
from flask_login import current_user

from mailer.core import i18n


def use_staff_language() -> None:
    """Speak the logged-in person's chosen language in this request (their browser's when they chose none)."""
    if current_user.is_authenticated and current_user.language:
        i18n.use_language(current_user.language)


# What each role is called on the admin's pages (the stored codes stay English: ROLES).
ROLE_NAMES = {
    "owner": lazy_gettext("owner"),
    "admin": lazy_gettext("admin"),
    "marketer": lazy_gettext("marketer"),
    "viewer": lazy_gettext("viewer"),
    "privacy": lazy_gettext("privacy officer"),
}


def role_name(role: str) -> str:
    """A role's name in the page's language ("privacy officer" for `privacy`); an unknown code as it is."""
    return str(ROLE_NAMES.get(role, role))


# What each consent ledger action is called on the admin's pages (the ledger stores the English codes).
CONSENT_ACTION_NAMES = {
    "requested": lazy_gettext("requested"),
    "granted": lazy_gettext("granted"),
    "confirmed": lazy_gettext("confirmed"),
    "withdrawn": lazy_gettext("withdrawn"),
    "objected": lazy_gettext("objected"),
    "expired": lazy_gettext("expired"),
    "confirmation_sent": lazy_gettext("confirmation sent"),
    "reconfirmation_sent": lazy_gettext("re-confirmation request sent"),
    "restricted": lazy_gettext("restricted"),
    "unrestricted": lazy_gettext("unrestricted"),
    "erased": lazy_gettext("erased"),
}


# What each campaign status is called on the admin's pages (CampaignStatus keeps the English codes).
CAMPAIGN_STATUS_NAMES = {
    "draft": lazy_gettext("draft"),
    "scheduled": lazy_gettext("scheduled"),
    "sending": lazy_gettext("sending"),
    "paused": lazy_gettext("paused"),
    "sent": lazy_gettext("sent"),
    "cancelled": lazy_gettext("cancelled"),
}


# What each status of a long job (an import, a bulk action) is called on the admin's pages (the tables keep
# the English codes).
JOB_STATUS_NAMES = {
    "mapping": lazy_gettext("mapping"),
    "queued": lazy_gettext("queued"),
    "running": lazy_gettext("running"),
    "done": lazy_gettext("done"),
    "failed": lazy_gettext("failed"),
    "cancelled": lazy_gettext("cancelled"),
    "cancelling": lazy_gettext("cancelling"),
}


def job_status_name(status: str) -> str:
    """An import's or a bulk job's status in the page's language; an unknown code as it is."""
    return str(JOB_STATUS_NAMES.get(status, status))


def campaign_status_name(status: str) -> str:
    """A campaign status's name in the page's language; an unknown code as it is."""
    return str(CAMPAIGN_STATUS_NAMES.get(status, status))


def consent_action_name(action: str) -> str:
    """A ledger action's name in the page's language; an unknown code as it is."""
    return str(CONSENT_ACTION_NAMES.get(action, action))
