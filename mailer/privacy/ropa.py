"""The record of processing activities (Art. 30(1)), built from the same settings as the privacy notice."""

from sqlalchemy import select

from mailer.consent.models import Purpose
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.spreadsheet import dict_csv_text
from mailer.privacy.objection import ensure_direct_marketing_purpose
from mailer.privacy.settings import LEGAL_BASES, get_settings, recipients, retention_days

SUBJECTS = "Subscribers and people who signed up on a form"
CONTACT_DATA = "Email address, name; consent records (time, IP address, browser)"
KIND_DATA = {
    "list": CONTACT_DATA + "; subscription status; deliveries",
    "tracking_open": "Time an email was opened (pseudonymous id)",
    "tracking_click": "Links clicked and when (pseudonymous id)",
}
KIND_RETENTION = {"tracking_open": "tracking_events", "tracking_click": "tracking_events"}


def activities() -> list[dict]:
    """One processing activity per purpose and per other use, with everything Art. 30(1)(b)-(g) asks for."""
    ensure_direct_marketing_purpose()
    shared = recipients()
    recipient_text = "; ".join(f"{r.name} ({r.role})" for r in shared) or "none"
    transfers = "; ".join(f"{r.name} → {r.country}: {r.safeguard}" for r in shared if r.outside_eea) or "none"
    settings = get_settings()
    inactive = retention_days("inactive_contacts")
    rows = []
    for p in db.session.execute(select(Purpose).order_by(Purpose.kind, Purpose.name)).scalars():
        category = KIND_RETENTION.get(p.kind)
        rows.append(
            {
                "activity": p.name,
                "purpose": p.description,
                "legal_basis": LEGAL_BASES.get(p.legal_basis, p.legal_basis),
                "data_subjects": SUBJECTS,
                "data_categories": KIND_DATA.get(p.kind, "As described by the purpose"),
                "recipients": recipient_text,
                "transfers": transfers,
                "retention": (
                    f"{retention_days(category)} days"
                    if category
                    else f"until withdrawn, or {inactive} days without interaction"
                ),
                "security": settings.security_measures,
            }
        )
    for use in settings.other_uses or []:
        rows.append(
            {
                "activity": use["name"],
                "purpose": use.get("description", ""),
                "legal_basis": LEGAL_BASES.get(use["legal_basis"], use["legal_basis"]),
                "data_subjects": SUBJECTS,
                "data_categories": CONTACT_DATA,
                "recipients": recipient_text,
                "transfers": transfers,
                "retention": "as long as needed to demonstrate compliance",
                "security": settings.security_measures,
            }
        )
    return rows


def record_of_processing() -> dict:
    """The whole record: the controller and DPO, then every activity."""
    s = get_settings()
    return {
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "controller": {
            "name": s.controller_name,
            "address": s.controller_address,
            "email": s.controller_email,
        },
        "dpo": {"name": s.dpo_name, "email": s.dpo_email},
        "activities": activities(),
        "recipients": [
            {
                "name": r.name,
                "role": r.role,
                "purpose": r.purpose,
                "data": r.data_categories,
                "country": r.country,
                "outside_eea": r.outside_eea,
                "safeguard": r.safeguard,
            }
            for r in recipients()
        ],
    }


def ropa_csv() -> str:
    """The activities as a spreadsheet, one row each."""
    rows = activities()
    return dict_csv_text(rows, list(rows[0].keys()))
