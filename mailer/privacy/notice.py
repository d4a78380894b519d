"""The privacy notice (Art. 13-14), generated from the structured settings and versioned like every notice.

It exists in each shipped language (Art. 12(1): clear and plain language the person understands): our own
sentences are translated, what staff wrote in the settings (names, descriptions, addresses) stays as written.
Each language is its own series of immutable versions with its hash: `privacy-notice` for English (the
versions published before the notice spoke other languages), `privacy-notice:<code>` for the others.
"""

from flask_babel import gettext, lazy_gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mailer.consent.models import Notice, Purpose
from mailer.consent.notices import PRIVACY_NOTICE_KEY, latest_notice, privacy_notice_key, publish_notice
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.privacy.objection import ensure_direct_marketing_purpose
from mailer.privacy.settings import RETENTION_CATEGORIES, get_settings, recipients, retention_category_name

NOTICE_KEY = PRIVACY_NOTICE_KEY
# The legal bases in the notice's words (the keys are settings.LEGAL_BASES').
BASES = {
    "consent": lazy_gettext("your consent (Art. 6(1)(a))"),
    "explicit_consent": lazy_gettext("your explicit consent (Art. 9(2)(a))"),
    "contract": lazy_gettext("a contract with you (Art. 6(1)(b))"),
    "legal_obligation": lazy_gettext("a legal obligation (Art. 6(1)(c))"),
    "legitimate_interest": lazy_gettext("our legitimate interest (Art. 6(1)(f))"),
}
RIGHTS = [
    lazy_gettext("See the data we hold about you and get a copy (access, Art. 15)."),
    lazy_gettext("Have wrong or incomplete data corrected (rectification, Art. 16)."),
    lazy_gettext("Have your data erased (erasure, Art. 17)."),
    lazy_gettext("Have us stop using your data while keeping it stored (restriction, Art. 18)."),
    lazy_gettext("Receive your data in a machine-readable form to take elsewhere (portability, Art. 20)."),
    lazy_gettext(
        "Object to any use of your data; objection to direct marketing always stops it (objection, Art. 21)."
    ),
    lazy_gettext(
        "Withdraw any consent at any time, as easily as you gave it, without affecting earlier use "
        "(Art. 7(3))."
    ),
]
# Purposes whose own descriptions are written as checkbox wording ("I …") get notice wording instead.
KIND_WORDING = {
    "tracking_open": lazy_gettext(
        "Only if you say yes: we record when you open one of our emails, using a small image in the message. "
        "Without your yes, our emails contain no such image."
    ),
    "tracking_click": lazy_gettext(
        "Only if you say yes: we record which links in our emails you click. Without your yes, the links in "
        "our emails do not identify you."
    ),
}
HOW_TO_USE_RIGHTS = lazy_gettext(
    "Every email we send has a link to your preference centre, where you can use each right yourself. "
    "You can also write to us. We answer within one month (Art. 12(3))."
)


def notice_key(language: str) -> str:
    """The key of the notice's versions in a language."""
    return privacy_notice_key(language)


def _basis(key: str) -> str:
    return str(BASES.get(key, key.replace("_", " ")))


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
                "heading": gettext("Emails you subscribe to"),
                "paragraphs": [
                    gettext(
                        "We send you the lists you chose, using your email address and, if you gave it, your "
                        "name. Legal basis: %(basis)s.",
                        basis=_basis("consent"),
                    )
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
                        str(KIND_WORDING.get(p.kind, p.description)),
                        gettext("Legal basis: %(basis)s.", basis=_basis(p.legal_basis)),
                    ],
                }
            )
    return sections


def notice_content(language: str | None = None) -> dict:
    """Everything the notice says in a language (English when unknown), as stored (and hashed) in each of
    that language's versions."""
    with i18n.speaking(language):
        return _content()


def _content() -> dict:
    s = get_settings()
    who = [
        gettext("%(controller)s is responsible for your data (the controller).", controller=s.controller_name)
    ]
    if s.controller_address:
        who.append(gettext("Postal address: %(address)s", address=s.controller_address))
    if s.controller_email:
        who.append(gettext("Email: %(email)s", email=s.controller_email))
    if s.dpo_name or s.dpo_email:
        dpo = " · ".join(v for v in (s.dpo_name, s.dpo_email) if v)
        who.append(gettext("Our data protection officer: %(dpo)s", dpo=dpo))
    sections = [{"heading": gettext("Who we are and how to reach us"), "paragraphs": who}]
    sections += _purpose_sections()
    if s.other_uses:
        sections.append(
            {
                "heading": gettext("Uses for which we do not ask for consent"),
                "paragraphs": [gettext("We need the following to run the service and meet our obligations:")],
                "items": [
                    f"{u['name']}: {u.get('description', '')} "
                    + gettext("Legal basis: %(basis)s.", basis=_basis(u["legal_basis"]))
                    for u in s.other_uses
                ],
            }
        )
    shared = recipients()
    sections.append(
        {
            "heading": gettext("Who we share data with"),
            "paragraphs": [
                gettext("We never sell your data.")
                if shared
                else gettext("We do not share your data with anyone.")
            ],
            "items": [_recipient_item(r) for r in shared],
        }
    )
    transfers = [r for r in shared if r.outside_eea]
    sections.append(
        {
            "heading": gettext("Transfers outside %(area)s", area=s.home_country),
            "paragraphs": [
                gettext("Your data stays within %(area)s.", area=s.home_country)
                if not transfers
                else gettext(
                    "Some recipients are outside %(area)s; each transfer is protected:", area=s.home_country
                )
            ],
            "items": [f"{r.name} ({r.country}): {r.safeguard}" for r in transfers],
        }
    )
    retention = s.retention or {}
    sections.append(
        {
            "heading": gettext("How long we keep your data"),
            "items": [
                gettext(
                    "%(what)s: %(num)s days",
                    what=retention_category_name(key),
                    num=retention.get(key, default),
                )
                for key, (default, _label) in RETENTION_CATEGORIES.items()
            ]
            + [
                gettext(
                    "Proof of your consent and of erasure: as long as we must be able to demonstrate it; "
                    "after erasure only an anonymous record and a keyed fingerprint of your address remain."
                )
            ],
        }
    )
    sections.append(
        {
            "heading": gettext("Your rights"),
            "items": [str(right) for right in RIGHTS],
            "paragraphs": [str(HOW_TO_USE_RIGHTS)],
        }
    )
    if s.authority_name:
        authority = s.authority_name + (f" ({s.authority_url})" if s.authority_url else "")
        complain = gettext(
            "You have the right to complain to a data protection supervisory authority, for example "
            "%(authority)s.",
            authority=authority,
        )
    else:
        complain = gettext("You have the right to complain to a data protection supervisory authority.")
    sections.append({"heading": gettext("Complaints"), "paragraphs": [complain]})
    sections.append(
        {
            "heading": gettext("If you do not give us your data"),
            "paragraphs": [
                s.provision_consequences
                or gettext(
                    "Giving us your data is voluntary. Without an email address we cannot send you our "
                    "emails; nothing else happens."
                )
            ],
        }
    )
    sections.append(
        {
            "heading": gettext("Automated decisions"),
            "paragraphs": [
                s.automated_decisions
                or gettext(
                    "We make no decisions about you by automated means, and no profiling with legal or "
                    "similarly significant effects (Art. 22)."
                )
            ],
        }
    )
    return {
        "title": gettext("Privacy notice of %(controller)s", controller=s.controller_name),
        "controller": s.controller_name,
        "sections": sections,
    }


def current_notice(language: str | None = None) -> Notice:
    """The notice as it stands now in a language (English when unknown), publishing a new version of that
    language when the settings changed its words; the caller commits."""
    language = i18n.supported(language) or i18n.DEFAULT_LANGUAGE
    key = notice_key(language)
    content = notice_content(language)
    try:
        with db.session.begin_nested():
            notice = publish_notice(key, content)
    except IntegrityError:  # another request published the same version a moment ago
        published = latest_notice(key)
        if published is None:
            raise
        notice = published
    return notice


def publish_every_language() -> Notice:
    """After the settings changed: a new version in each language whose words changed; returns English's."""
    for language in i18n.LANGUAGES:
        if language != i18n.DEFAULT_LANGUAGE:
            current_notice(language)
    return current_notice(i18n.DEFAULT_LANGUAGE)


def notice_version(version: int, language: str | None = None) -> Notice | None:
    """An older version in a language, so a person can read what they were shown."""
    key = notice_key(i18n.supported(language) or i18n.DEFAULT_LANGUAGE)
    query = select(Notice).where(Notice.key == key, Notice.version == version)
    return db.session.execute(query).scalar_one_or_none()


def _recipient_item(r) -> str:
    if r.country:
        return gettext(
            "%(name)s (%(role)s) in %(country)s: %(purpose)s",
            name=r.name,
            role=r.role,
            country=r.country,
            purpose=r.purpose,
        )
    return gettext("%(name)s (%(role)s): %(purpose)s", name=r.name, role=r.role, purpose=r.purpose)
