"""The privacy notice (Art. 13-14), generated from the structured settings and versioned like every notice."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mailer.consent.models import Notice, Purpose
from mailer.consent.notices import PRIVACY_NOTICE_KEY, latest_notice, publish_notice
from mailer.core.extensions import db
from mailer.privacy.objection import ensure_direct_marketing_purpose
from mailer.privacy.settings import LEGAL_BASES, RETENTION_CATEGORIES, get_settings, recipients

NOTICE_KEY = PRIVACY_NOTICE_KEY
RIGHTS = [
    "See the data we hold about you and get a copy (access, Art. 15).",
    "Have wrong or incomplete data corrected (rectification, Art. 16).",
    "Have your data erased (erasure, Art. 17).",
    "Have us stop using your data while keeping it stored (restriction, Art. 18).",
    "Receive your data in a machine-readable form to take elsewhere (portability, Art. 20).",
    "Object to any use of your data; objection to direct marketing always stops it (objection, Art. 21).",
    "Withdraw any consent at any time, as easily as you gave it, without affecting earlier use (Art. 7(3)).",
]
# Purposes whose own descriptions are written as checkbox wording ("I …") get notice wording instead.
KIND_WORDING = {
    "tracking_open": "Only if you say yes: we record when you open one of our emails, using a small image "
    "in the message. Without your yes, our emails contain no such image.",
    "tracking_click": "Only if you say yes: we record which links in our emails you click. Without your "
    "yes, the links in our emails do not identify you.",
}
HOW_TO_USE_RIGHTS = (
    "Every email we send has a link to your preference centre, where you can use each right yourself. "
    "You can also write to us. We answer within one month (Art. 12(3))."
)


def _basis(key: str) -> str:
    return LEGAL_BASES.get(key, key.replace("_", " "))


def _purpose_sections() -> list[dict]:
    """One section per use of data based on consent: the lists, tracking,
    direct marketing, sensitive fields."""
    ensure_direct_marketing_purpose()
    purposes = db.session.execute(select(Purpose).order_by(Purpose.kind, Purpose.name)).scalars().all()
    lists = [p for p in purposes if p.kind == "list"]
    sections = []
    if lists:
        sections.append(
            {
                "heading": "Emails you subscribe to",
                "paragraphs": [
                    "We send you the lists you chose, using your email address and, if you "
                    f"gave it, your name. Legal basis: {_basis('consent')}."
                ],
                "items": [f"{p.name}: {p.description}" for p in lists],
            }
        )
    for p in purposes:
        if p.kind != "list":
            sections.append(
                {
                    "heading": p.name,
                    "paragraphs": [
                        KIND_WORDING.get(p.kind, p.description),
                        f"Legal basis: {_basis(p.legal_basis)}.",
                    ],
                }
            )
    return sections


def notice_content() -> dict:
    """Everything the notice says, as stored (and hashed) in each version."""
    s = get_settings()
    who = [f"{s.controller_name} is responsible for your data (the controller)."]
    if s.controller_address:
        who.append(f"Postal address: {s.controller_address}")
    if s.controller_email:
        who.append(f"Email: {s.controller_email}")
    if s.dpo_name or s.dpo_email:
        who.append(f"Our data protection officer: {' · '.join(v for v in (s.dpo_name, s.dpo_email) if v)}")
    sections = [{"heading": "Who we are and how to reach us", "paragraphs": who}]
    sections += _purpose_sections()
    if s.other_uses:
        sections.append(
            {
                "heading": "Uses for which we do not ask for consent",
                "paragraphs": ["We need the following to run the service and meet our obligations:"],
                "items": [
                    f"{u['name']}: {u.get('description', '')} Legal basis: {_basis(u['legal_basis'])}."
                    for u in s.other_uses
                ],
            }
        )
    shared = recipients()
    sections.append(
        {
            "heading": "Who we share data with",
            "paragraphs": [
                "We never sell your data." if shared else "We do not share your data with anyone."
            ],
            "items": [
                f"{r.name} ({r.role}){' in ' + r.country if r.country else ''}: {r.purpose}" for r in shared
            ],
        }
    )
    transfers = [r for r in shared if r.outside_eea]
    sections.append(
        {
            "heading": f"Transfers outside {s.home_country}",
            "paragraphs": [
                "Your data stays within " + s.home_country + "."
                if not transfers
                else "Some recipients are outside " + s.home_country + "; each transfer is protected:"
            ],
            "items": [f"{r.name} ({r.country}): {r.safeguard}" for r in transfers],
        }
    )
    retention = s.retention or {}
    sections.append(
        {
            "heading": "How long we keep your data",
            "items": [
                f"{label}: {retention.get(key, default)} days"
                for key, (default, label) in RETENTION_CATEGORIES.items()
            ]
            + [
                "Proof of your consent and of erasure: as long as we must be able to demonstrate it; after "
                "erasure only an anonymous record and a keyed fingerprint of your address remain."
            ],
        }
    )
    sections.append({"heading": "Your rights", "items": RIGHTS, "paragraphs": [HOW_TO_USE_RIGHTS]})
    complain = "You have the right to complain to a data protection supervisory authority"
    if s.authority_name:
        complain += f", for example {s.authority_name}" + (f" ({s.authority_url})" if s.authority_url else "")
    sections.append({"heading": "Complaints", "paragraphs": [complain + "."]})
    sections.append(
        {
            "heading": "If you do not give us your data",
            "paragraphs": [
                s.provision_consequences
                or "Giving us your data is voluntary. Without an email "
                "address we cannot send you our emails; nothing else happens."
            ],
        }
    )
    sections.append(
        {
            "heading": "Automated decisions",
            "paragraphs": [
                s.automated_decisions
                or "We make no decisions about you by automated means, "
                "and no profiling with legal or similarly significant effects (Art. 22)."
            ],
        }
    )
    return {
        "title": f"Privacy notice of {s.controller_name}",
        "controller": s.controller_name,
        "sections": sections,
    }


def current_notice() -> Notice:
    """The notice as it stands now,
    publishing a new version when the settings changed its words; the caller commits."""
    content = notice_content()
    try:
        with db.session.begin_nested():
            notice = publish_notice(NOTICE_KEY, content)
    except IntegrityError:  # another request published the same version a moment ago
        published = latest_notice(NOTICE_KEY)
        if published is None:
            raise
        notice = published
    return notice


def notice_version(version: int) -> Notice | None:
    """An older version, so a person can read what they were shown."""
    query = select(Notice).where(Notice.key == NOTICE_KEY, Notice.version == version)
    return db.session.execute(query).scalar_one_or_none()
