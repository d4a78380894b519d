"""What the segment builder offers: every field, its operators and the values to pick from.

Sensitive fields are listed, disabled, with the reason (they are never a selection criterion).
"""

from collections.abc import Collection
from dataclasses import asdict, dataclass, field

from flask_babel import gettext, lazy_gettext
from sqlalchemy import or_, select

from mailer.consent.models import Purpose
from mailer.contacts.fields import all_fields
from mailer.contacts.models.contact import CONTACT_STATUSES
from mailer.contacts.models.fields import ContactField
from mailer.contacts.models.tags import Tag
from mailer.core.extensions import db
from mailer.core.i18n import language_choices
from mailer.segments.conditions import BUILTIN, FIELD_PREFIX, FIELD_TYPE_OPS, OPS
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import MailingList

SENSITIVE_REASON = lazy_gettext("sensitive: never used to select people")
# A contact status as the builder's value menu shows it (the stored value stays the English code).
STATUS_NAMES = {
    "active": lazy_gettext("active"),
    "restricted": lazy_gettext("restricted"),
    "erased": lazy_gettext("erased"),
}


@dataclass
class FieldOption:
    """One field in the builder's first menu."""

    name: str
    label: str
    group: str
    ops: list[tuple[str, str, str]]  # (operator, words, value kind: "", text, number, date, days)
    values: list[tuple[str, str]] = field(default_factory=list)  # a menu of values, when there is one
    disabled: str = ""  # why it cannot be chosen

    def as_json(self) -> dict:
        return asdict(self)


def _ops(names: tuple[str, ...]) -> list[tuple[str, str, str]]:
    return [(op, str(OPS[op][0]), OPS[op][1]) for op in names]


def _list_values(keep: Collection[str]) -> list[tuple[str, str]]:
    """Lists to pick from: the active ones; an archived (or deleted) one only where the segment names it."""
    rows = db.session.execute(
        select(MailingList.public_id, MailingList.name, MailingList.archived_at, MailingList.deleted_at)
        .where(or_(MailingList.archived_at.is_(None), MailingList.public_id.in_(list(keep))))
        .order_by(MailingList.name)
    )
    return [
        (
            pid,
            gettext("%(name)s (deleted)", name=name)
            if deleted
            else gettext("%(name)s (archived)", name=name)
            if archived
            else name,
        )
        for pid, name, archived, deleted in rows
    ]


def _builtin_values(
    campaigns: list[tuple[str, str]], keep_lists: Collection[str]
) -> dict[str, list[tuple[str, str]]]:
    field_purposes = select(ContactField.purpose_id).where(ContactField.purpose_id.is_not(None))
    purposes = db.session.execute(
        select(Purpose.public_id, Purpose.name)
        .where(Purpose.id.not_in(field_purposes))
        .order_by(Purpose.name)
    ).all()
    return {
        "status": [(s, str(STATUS_NAMES.get(s, s))) for s in CONTACT_STATUSES],
        "source_form": [
            (slug, name)
            for slug, name in db.session.execute(select(Form.slug, Form.name).order_by(Form.name))
        ],
        "list": _list_values(keep_lists),
        "consent": [(pid, name) for pid, name in purposes],
        "language": language_choices(),
        "tag": [(tag.name, tag.name) for tag in db.session.execute(select(Tag).order_by(Tag.key)).scalars()],
        "opened": campaigns,
        "clicked": campaigns,
    }


def catalogue(campaigns: list[tuple[str, str]], keep_lists: Collection[str] = ()) -> list[FieldOption]:
    """Every field the builder offers, built-in then custom; `campaigns`: (public id, name) of sent ones;
    `keep_lists`: public ids of archived lists the segment being edited already names (kept, marked)."""
    values = _builtin_values(campaigns, keep_lists)
    options = [
        FieldOption(
            name, str(label), "Contact" if name not in ("opened", "clicked") else "Activity", _ops(ops)
        )
        for name, (label, ops) in BUILTIN.items()
    ]
    for option in options:
        option.values = values.get(option.name, [])
    for custom in all_fields():
        option = FieldOption(
            FIELD_PREFIX + custom.key,
            custom.label,
            "Custom fields",
            _ops(FIELD_TYPE_OPS.get(custom.value_type, ())),
            [(c, c) for c in custom.choices or []] if custom.value_type != "yes_no" else [],
        )
        if custom.is_sensitive:
            option.ops, option.disabled = [], str(SENSITIVE_REASON)
        options.append(option)
    return options
