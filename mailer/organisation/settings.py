"""The organisation's name, postal address, default sender, reply-to and website.

Owners and admins fill them in once on the admin's Settings page; an environment variable, when set, overrides
the stored value (deployments pin them: MAILER_ORGANISATION, MAILER_POSTAL_ADDRESS, MAILER_FROM,
MAILER_REPLY_TO, MAILER_WEBSITE_URL), and the page shows such a field as set by the environment. Every reader
goes through this module, so a value typed on the page reaches footers, senders and pages without a restart.
"""

from dataclasses import dataclass, replace
from email.headerregistry import Address
from email.utils import getaddresses, parseaddr
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from mailer import audit
from mailer.contacts.operations import AddressError, normalise_email
from mailer.core.extensions import db
from mailer.core.text import TextRefused, multi_line, one_line
from mailer.organisation import brand
from mailer.organisation.models import OrganisationSettings

# field -> the environment variable that overrides it
ENVIRONMENT = {
    "name": "MAILER_ORGANISATION",
    "postal_address": "MAILER_POSTAL_ADDRESS",
    "sender": "MAILER_FROM",
    "reply_to": "MAILER_REPLY_TO",
    "website": "MAILER_WEBSITE_URL",
}
# Used while neither the page nor the environment says otherwise (the sender keeps a fresh install runnable;
# the checklist still asks for a real one).
DEFAULT_NAME = "Mailer Demo"
DEFAULT_SENDER = "Mailer Demo <newsletter@example.com>"
MAX_NAME = 200
MAX_ADDRESS = 500
MAX_WEBSITE = 500
AT_SIGNS = ("@", "\uff20", "\ufe6b")


class SettingsRefused(ValueError):
    """Some values cannot be stored; `errors` maps each field to a message for the person who typed it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class OrganisationInput:
    """What staff type on the Settings page."""

    name: str = ""
    postal_address: str = ""
    from_name: str = ""
    from_email: str = ""
    reply_to: str = ""
    website: str = ""


def _row() -> OrganisationSettings | None:
    return db.session.get(OrganisationSettings, 1)


def _environment(key: str) -> str:
    return (current_app.config.get(ENVIRONMENT[key]) or "").strip()


def set_by_environment() -> dict[str, str]:
    """Field -> variable name, for every field an environment variable sets (the page disables those)."""
    return {key: variable for key, variable in ENVIRONMENT.items() if _environment(key)}


def parse_sender(value: str) -> Address:
    """'Name <user@example.com>' as an Address; raises ValueError when it is not exactly one address."""
    pairs = getaddresses([value])
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        raise ValueError(f"not a single address: {value!r}")
    name, addr = pairs[0]
    local, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def name() -> str:
    """The organisation's name, shown on pages and in mail."""
    row = _row()
    return _environment("name") or (row.name if row is not None and row.name else DEFAULT_NAME)


def postal_address() -> str:
    """The postal address every marketing footer shows ("" while nobody has set it: sending is refused)."""
    row = _row()
    return _environment("postal_address") or (row.postal_address if row is not None else "")


def sender_text() -> str:
    """The default From as 'Name <address>' text."""
    if _environment("sender"):
        return _environment("sender")
    row = _row()
    if row is None or not row.from_email:
        return DEFAULT_SENDER
    return str(Address(display_name=row.from_name, addr_spec=row.from_email))


def sender() -> Address:
    """The default From of every message (campaigns may set their own); ValueError if MAILER_FROM is
    broken."""
    return parse_sender(sender_text())


def sender_parts() -> tuple[str, str]:
    """(name, address) of the default sender, the campaign editor's starting values."""
    return parseaddr(sender_text())


def reply_to() -> str:
    """Where replies go by default ("" = to the sender)."""
    row = _row()
    return _environment("reply_to") or (row.reply_to if row is not None else "")


def website() -> str:
    """The organisation's website, linked from every public page ("" = no link back)."""
    row = _row()
    return _environment("website") or (row.website if row is not None else "")


def website_error(value: str) -> str | None:
    """Why `value` cannot be the website (a full http(s) address), or None."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > MAX_WEBSITE:
        return (
            "Enter the full address of your website, starting with https:// "
            f"({MAX_WEBSITE} characters at most)."
        )
    return None


def is_filled_in() -> dict[str, bool]:
    """Whether each thing the first-run checklist asks for is given (on the page or by a variable)."""
    row = _row()
    return {
        "name": bool(_environment("name") or (row is not None and row.name)),
        "postal_address": bool(postal_address().strip()),
        "sender": bool(_environment("sender") or (row is not None and row.from_email)),
    }


def stored() -> OrganisationInput:
    """The values as stored (the form's starting values); fields the environment sets show its value."""
    row = _row()
    values = OrganisationInput()
    if row is not None:
        values = OrganisationInput(
            row.name, row.postal_address, row.from_name, row.from_email, row.reply_to, row.website
        )
    if _environment("name"):
        values.name = name()
    if _environment("postal_address"):
        values.postal_address = postal_address()
    if _environment("sender"):
        values.from_name, values.from_email = sender_parts()
    if _environment("reply_to"):
        values.reply_to = reply_to()
    if _environment("website"):
        values.website = website()
    return values


def _clean(data: OrganisationInput) -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    texts = (("name", "The organisation name", MAX_NAME), ("from_name", "The sender name", MAX_NAME))
    for key, what, limit in texts:
        try:
            values[key] = one_line(getattr(data, key), what)
        except TextRefused as exc:
            errors[key] = str(exc)
            continue
        if len(values[key]) > limit:
            errors[key] = f"{what} is too long ({limit} characters at most)."
    if "name" not in errors and not values["name"]:
        errors["name"] = "Enter your organisation's name: it is shown on every page and email."
    if "from_name" not in errors and (
        any(sign in values["from_name"] for sign in AT_SIGNS)
        or "<" in values["from_name"]
        or ">" in values["from_name"]
    ):
        errors["from_name"] = (
            "The sender name can't contain an email address, “@”, “<” or “>”: mail programs would show it "
            "as the sender. Put the address under “Sender address”."
        )
    try:
        values["postal_address"] = multi_line(data.postal_address, "The postal address").strip()
    except TextRefused as exc:
        errors["postal_address"] = str(exc)
    else:
        if not values["postal_address"]:
            errors["postal_address"] = (
                "Enter the postal address: the law requires it in every marketing email's footer."
            )
        elif len(values["postal_address"]) > MAX_ADDRESS:
            errors["postal_address"] = f"The postal address is too long ({MAX_ADDRESS} characters at most)."
    for key, label, required in (
        ("from_email", "sender address", True),
        ("reply_to", "reply-to address", False),
    ):
        value = (getattr(data, key) or "").strip()
        values[key] = ""
        if not value:
            if required:
                errors[key] = f"Enter the {label}: mail is sent from it."
            continue
        try:
            values[key] = normalise_email(value)
        except AddressError:
            errors[key] = f"The {label} “{value[:80]}” is not a valid email address."
    values["website"] = (data.website or "").strip()
    if values["website"] and (problem := website_error(values["website"])):
        errors["website"] = problem
    return values, errors


# form field -> the setting an environment variable may override
OVERRIDES_BY_FIELD = {
    "name": "name",
    "postal_address": "postal_address",
    "from_name": "sender",
    "from_email": "sender",
    "reply_to": "reply_to",
    "website": "website",
}


def save(data: OrganisationInput, actor=None, ip: str | None = None) -> list[str]:
    """Validate and store the settings (fields the environment sets are left as stored), audited; returns the
    names of the fields that changed. Raises SettingsRefused naming each problem. The caller commits."""
    environment = set_by_environment()
    data = replace(data)  # the caller's input stays as given
    for field, setting in OVERRIDES_BY_FIELD.items():
        if setting in environment:  # the page shows the variable's value; validate that, store nothing
            setattr(data, field, getattr(stored(), field))
    values, errors = _clean(data)
    if errors:
        raise SettingsRefused(errors)
    row = _row()
    if row is None:
        row = OrganisationSettings(id=1, **dict.fromkeys(OVERRIDES_BY_FIELD, ""))
        db.session.add(row)
    changed = []
    for field, value in values.items():
        if OVERRIDES_BY_FIELD[field] in environment:
            continue
        if getattr(row, field) != value:
            setattr(row, field, value)
            changed.append(field)
    row.updated_by_id = getattr(actor, "id", None)
    db.session.flush()
    audit.record(
        "settings.organisation", "settings", "organisation", {"changed": changed}, actor=actor, ip=ip
    )
    return changed


def template_globals() -> dict[str, object]:
    """For every page's and system email's templates: the organisation's name and brand (an error page
    rendered while the database is unreachable still gets them: the environment's or the defaults)."""
    try:
        return {"organisation": name(), "brand": brand.current(), "website": website()}
    except SQLAlchemyError:
        db.session.rollback()
        return {
            "organisation": _environment("name") or DEFAULT_NAME,
            "brand": brand.DEFAULTS,
            "website": _environment("website"),
        }
