"""Privacy settings (one row, created with sensible defaults) and the recipients data is shared with."""

from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext
from sqlalchemy import select

from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.organisation import settings as organisation_settings
from mailer.privacy.models.settings import RECIPIENT_ROLES, DataRecipient, PrivacySettings

# category -> (default days, what it is); an inactive contact is erased by anonymisation.
RETENTION_CATEGORIES = {
    "unconfirmed_signups": (30, "Sign-ups never confirmed by double opt-in"),
    "tracking_events": (365, "Open and click records"),
    "bounce_logs": (365, "Bounce and delivery-failure details"),
    "import_files": (30, "Uploaded contact files and their rejected-row reports"),
    "transactional_messages": (90, "Recipients of transactional messages in the sent log"),
    "inactive_contacts": (
        365,
        "Contacts with no interaction (sign-up, confirmation, click, preference change)",
    ),
}
# The categories as people read them, in the page's or the person's language (the stored privacy notice keeps
# the English words above: they are part of its hashed version).
RETENTION_CATEGORY_NAMES = {
    "unconfirmed_signups": lazy_gettext("Sign-ups never confirmed by double opt-in"),
    "tracking_events": lazy_gettext("Open and click records"),
    "bounce_logs": lazy_gettext("Bounce and delivery-failure details"),
    "import_files": lazy_gettext("Uploaded contact files and their rejected-row reports"),
    "transactional_messages": lazy_gettext("Recipients of transactional messages in the sent log"),
    "inactive_contacts": lazy_gettext(
        "Contacts with no interaction (sign-up, confirmation, click, preference change)"
    ),
}
LEGAL_BASES = {
    "consent": "your consent (Art. 6(1)(a))",
    "explicit_consent": "your explicit consent (Art. 9(2)(a))",
    "contract": "a contract with you (Art. 6(1)(b))",
    "legal_obligation": "a legal obligation (Art. 6(1)(c))",
    "legitimate_interest": "our legitimate interest (Art. 6(1)(f))",
}
DEFAULT_OTHER_USES = [
    {
        "name": "Proof of consent",
        "legal_basis": "legal_obligation",
        "description": "A record of what you agreed to, when and how (with IP address and browser), "
        "so we can prove it (Art. 7(1)).",
    },
    {
        "name": "Suppression list",
        "legal_basis": "legitimate_interest",
        "description": "After you unsubscribe or ask for erasure we keep a keyed fingerprint of your "
        "address, so we never add it again by mistake.",
    },
    {
        "name": "Delivery and bounce records",
        "legal_basis": "legitimate_interest",
        "description": "Which emails were delivered or bounced, to keep our sending reliable and stop "
        "mailing dead addresses.",
    },
]
DEFAULT_SECURITY = (
    "Sensitive fields encrypted at rest (AES-256-GCM, a key per person); addresses looked up by a "
    "keyed hash; staff access by role with an audit log; TLS for mail and web."
)


def retention_category_name(category: str) -> str:
    """A retention category's name in the current language; an unknown code as it is."""
    return str(RETENTION_CATEGORY_NAMES.get(category, category))


def get_settings() -> PrivacySettings:
    """The settings row, created from the app's configuration on first use."""
    row = db.session.get(PrivacySettings, 1)
    if row is None:
        config = current_app.config
        try:
            sender = organisation_settings.sender().addr_spec
        except ValueError:
            sender = ""
        row = PrivacySettings(
            id=1,
            controller_name=organisation_settings.name(),
            controller_address=organisation_settings.postal_address(),
            controller_email=sender,
            retention={k: v[0] for k, v in RETENTION_CATEGORIES.items()},
            security_measures=DEFAULT_SECURITY,
            other_uses=[dict(u) for u in DEFAULT_OTHER_USES],
        )
        row.retention["unconfirmed_signups"] = config["UNCONFIRMED_RETENTION_DAYS"]
        db.session.add(row)
        db.session.flush()
    return row


def retention_days(category: str) -> int:
    """The configured lifetime of a data category, in days."""
    configured = (get_settings().retention or {}).get(category)
    return int(configured) if configured else RETENTION_CATEGORIES[category][0]


def _email_or_blank(value: str, label: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise PrivacyError(f"The {label} is not a valid email address.") from None


@dataclass
class SettingsInput:
    """What staff can change on the settings page."""

    controller_name: str = ""
    controller_address: str = ""
    controller_email: str = ""
    dpo_name: str = ""
    dpo_email: str = ""
    authority_name: str = ""
    authority_url: str = ""
    home_country: str = "the EU/EEA"
    automated_decisions: str = ""
    provision_consequences: str = ""
    security_measures: str = ""
    retention: dict[str, int] = field(default_factory=dict)
    repermission_enabled: bool = True
    repermission_grace_days: int = 30
    reminder_days: int = 7
    other_uses: list[dict] = field(default_factory=list)


def save_settings(data: SettingsInput, actor_id: int | None = None) -> tuple[PrivacySettings, list[str]]:
    """Validate and store the settings; returns the row and the names of the fields that changed."""
    if not data.controller_name.strip():
        raise PrivacyError("Name the organisation responsible for the data (the controller).")
    if data.authority_url and not data.authority_url.startswith(("https://", "http://")):
        raise PrivacyError("The supervisory authority's website must be a full http(s) address.")
    retention = {}
    for category, (default, label) in RETENTION_CATEGORIES.items():
        days = int(data.retention.get(category) or default)
        if not 1 <= days <= 3650:
            raise PrivacyError(f"“{label}”: keep it between 1 and 3650 days.")
        retention[category] = days
    if not 1 <= data.repermission_grace_days <= 365 or not 1 <= data.reminder_days <= 30:
        raise PrivacyError("Grace period: 1–365 days; deadline warning: 1–30 days before.")
    for use in data.other_uses:
        if use.get("legal_basis") not in LEGAL_BASES or not use.get("name"):
            raise PrivacyError("Each other use needs a name and one of the legal bases.")
    row = get_settings()
    values = {
        "controller_name": data.controller_name.strip()[:200],
        "controller_address": data.controller_address.strip(),
        "controller_email": _email_or_blank(data.controller_email, "controller's email"),
        "dpo_name": data.dpo_name.strip()[:200],
        "dpo_email": _email_or_blank(data.dpo_email, "DPO's email"),
        "authority_name": data.authority_name.strip()[:200],
        "authority_url": data.authority_url.strip()[:500],
        "home_country": data.home_country.strip()[:80] or "the EU/EEA",
        "automated_decisions": data.automated_decisions.strip(),
        "provision_consequences": data.provision_consequences.strip(),
        "security_measures": data.security_measures.strip(),
        "retention": retention,
        "repermission_enabled": bool(data.repermission_enabled),
        "repermission_grace_days": data.repermission_grace_days,
        "reminder_days": data.reminder_days,
        "other_uses": data.other_uses,
    }
    changed = [k for k, v in values.items() if getattr(row, k) != v]
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_by_id = actor_id
    return row, changed


def recipients(active_only: bool = True) -> list[DataRecipient]:
    """Everyone data is shared with, by name."""
    query = select(DataRecipient).order_by(DataRecipient.name)
    if active_only:
        query = query.where(DataRecipient.active.is_(True))
    return list(db.session.execute(query).scalars())


@dataclass
class RecipientInput:
    name: str = ""
    role: str = "processor"
    purpose: str = ""
    data_categories: str = ""
    country: str = ""
    outside_eea: bool = False
    safeguard: str = ""
    contact: str = ""
    notify_changes: bool = True
    active: bool = True


def save_recipient(data: RecipientInput, recipient: DataRecipient | None = None) -> DataRecipient:
    """Create or update a recipient; a transfer outside the EEA needs its safeguard named (Art. 46)."""
    if not data.name.strip() or len(data.name) > 200:
        raise PrivacyError("Give the recipient a name (200 characters at most).")
    if data.role not in RECIPIENT_ROLES:
        raise PrivacyError(f"The role must be one of: {', '.join(RECIPIENT_ROLES)}.")
    if data.outside_eea and not data.safeguard.strip():
        raise PrivacyError(
            "A transfer outside the EEA needs a safeguard (e.g. an adequacy decision or SCCs)."
        )
    if recipient is None:
        recipient = DataRecipient(name=data.name.strip())
        db.session.add(recipient)
    for key in ("role", "purpose", "data_categories", "country", "safeguard", "contact"):
        setattr(recipient, key, (getattr(data, key) or "").strip())
    recipient.name, recipient.outside_eea = data.name.strip(), bool(data.outside_eea)
    recipient.notify_changes, recipient.active = bool(data.notify_changes), bool(data.active)
    db.session.flush()
    return recipient
