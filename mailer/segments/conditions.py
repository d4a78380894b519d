"""Segment conditions: the strict reading of a condition tree and its compilation to one SQL select.

A tree is JSON: {"match": "all" | "any", "rules": [rule or tree, ...]}, a rule {"field", "op", "value"}.
Anything else (unknown keys, wrong types, unknown fields or operators, references to nothing, sensitive
fields, too deep or too many rules) is refused with SegmentError, whose message says what is wrong.
`compile_tree` turns a valid tree into ONE select of contact ids (correlated EXISTS / IN subqueries, no
per-contact Python), which the count, the builder, the campaign preview and the send all use.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext, lazy_gettext
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, literal, not_, or_, select, text

from mailer.consent.models import ConsentState, Purpose
from mailer.contacts.fields import clean_value
from mailer.contacts.models.contact import CONTACT_STATUSES, Contact, ContactStatus
from mailer.contacts.models.fields import CHOICE_SEPARATOR, ContactField, ContactFieldValue
from mailer.contacts.models.suppression import Suppression, SuppressionReason
from mailer.contacts.models.tags import ContactTag, Tag
from mailer.core import counters
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.i18n import LANGUAGES
from mailer.segments import hooks
from mailer.subscriptions.lists import TRACKING_PURPOSES
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import MailingList, Subscription

MATCHES = ("all", "any")
MAX_DEPTH = 3
MAX_RULES = 40
MAX_VALUE_LENGTH = 200
MAX_DAYS = 36500
HASH_MEMORY = "64MB"  # work_mem for a count (_room_to_hash)
FIELD_PREFIX = "field:"
DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")
ACTIVITY_PURPOSE = {"opened": "tracking:open", "clicked": "tracking:click"}
ACTIVITY_KIND = {"opened": "open", "clicked": "click"}

# Operators: their words in the builder, and what value each takes ("" = none).
OPS = {
    "is": (lazy_gettext("is"), "text"),
    "is_not": (lazy_gettext("is not"), "text"),
    "contains": (lazy_gettext("contains"), "text"),
    "starts_with": (lazy_gettext("starts with"), "text"),
    "is_set": (lazy_gettext("has a value"), ""),
    "is_not_set": (lazy_gettext("has no value"), ""),
    "eq": ("=", "number"),
    "ne": ("≠", "number"),
    "gt": (">", "number"),
    "gte": ("≥", "number"),
    "lt": ("<", "number"),
    "lte": ("≤", "number"),
    "on": (lazy_gettext("is on"), "date"),
    "before": (lazy_gettext("is before"), "date"),
    "after": (lazy_gettext("is after"), "date"),
    "within_days": (lazy_gettext("in the last N days"), "days"),
    "over_days_ago": (lazy_gettext("more than N days ago"), "days"),
    "has": (lazy_gettext("has"), "text"),
    "has_not": (lazy_gettext("has not"), "text"),
    "confirmed": (lazy_gettext("confirmed on"), "text"),
    "pending": (lazy_gettext("waiting for confirmation on"), "text"),
    "unsubscribed": (lazy_gettext("unsubscribed from"), "text"),
    "not_on": (lazy_gettext("not confirmed on"), "text"),
    "granted": (lazy_gettext("granted"), "text"),
    "not_granted": (lazy_gettext("has not granted"), "text"),
    "yes": (lazy_gettext("yes"), ""),
    "no": (lazy_gettext("no"), ""),
    "campaign": (lazy_gettext("the campaign"), "text"),
    "not_campaign": (lazy_gettext("not the campaign"), "text"),
    "any_within_days": (lazy_gettext("any campaign in the last N days"), "days"),
    "none_within_days": (lazy_gettext("no campaign in the last N days"), "days"),
}
TEXT_OPS = ("is", "is_not", "contains", "starts_with", "is_set", "is_not_set")
FIELD_TYPE_OPS = {
    "text": TEXT_OPS,
    "email": TEXT_OPS,
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "is_set", "is_not_set"),
    "date": ("on", "before", "after", "within_days", "over_days_ago", "is_set", "is_not_set"),
    "single_choice": ("is", "is_not", "is_set", "is_not_set"),
    "multiple_choice": ("has", "has_not", "is_set", "is_not_set"),
    "yes_no": ("yes", "no", "is_not_set"),
}
ACTIVITY_OPS = ("campaign", "not_campaign", "any_within_days", "none_within_days")
# Built-in fields: label, operators.
BUILTIN = {
    "email_domain": (lazy_gettext("Email domain"), ("is", "is_not")),
    "status": (lazy_gettext("Contact status"), ("is", "is_not")),
    "signed_up": (lazy_gettext("Added"), ("before", "after", "within_days", "over_days_ago")),
    "source_form": (lazy_gettext("Signed up through form"), ("is", "is_not")),
    "list": (lazy_gettext("List"), ("confirmed", "pending", "unsubscribed", "not_on")),
    "consent": (lazy_gettext("Consent to"), ("granted", "not_granted")),
    "tag": (lazy_gettext("Tag"), ("has", "has_not")),
    "language": (lazy_gettext("Language"), ("is", "is_not", "is_set", "is_not_set")),
    "bounced": (lazy_gettext("Address hard-bounced"), ("yes", "no")),
    "opened": (lazy_gettext("Opened"), ACTIVITY_OPS),
    "clicked": (lazy_gettext("Clicked in"), ACTIVITY_OPS),
}


class SegmentError(ValueError):
    """A condition tree that cannot be used; the message says what is wrong, for the person who wrote it."""


@dataclass(frozen=True)
class Rule:
    field: str
    op: str
    value: str | int | None


@dataclass(frozen=True)
class Group:
    match: str
    items: tuple["Rule | Group", ...]

    def rules(self) -> list[Rule]:
        """Every rule in the tree, depth first."""
        found: list[Rule] = []
        for item in self.items:
            found.extend(item.rules() if isinstance(item, Group) else [item])
        return found


@dataclass
class Compiled:
    """A tree as SQL: the select of matching contact ids, and the activity purposes it depends on."""

    query: Select
    activity: set[str] = field(default_factory=set)


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SegmentError(gettext("%(where)s: the value must be text.", where=where))
    value = " ".join(value.split())
    if len(value) > MAX_VALUE_LENGTH:
        raise SegmentError(
            gettext(
                "%(where)s: the value is too long (%(max)s characters at most).",
                where=where,
                max=MAX_VALUE_LENGTH,
            )
        )
    return value


def _rule(data: Any, where: str) -> Rule:
    if set(data) - {"field", "op", "value"} or not {"field", "op"} <= set(data):
        raise SegmentError(
            gettext("%(where)s: a condition has a field, an operator and a value, nothing else.", where=where)
        )
    name, op, value = data["field"], data["op"], data.get("value")
    if not isinstance(name, str) or not isinstance(op, str) or len(name) > 80 or len(op) > 40:
        raise SegmentError(gettext("%(where)s: the field and the operator must be short text.", where=where))
    if op not in OPS:
        raise SegmentError(
            gettext("%(where)s: unknown operator “%(operator)s”.", where=where, operator=op[:40])
        )
    kind = OPS[op][1]
    if kind == "":
        if value not in (None, ""):
            raise SegmentError(
                gettext("%(where)s: “%(operator)s” takes no value.", where=where, operator=OPS[op][0])
            )
        return Rule(name, op, None)
    if kind == "days":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
            raise SegmentError(
                gettext("%(where)s: give a number of days between 1 and %(max)s.", where=where, max=MAX_DAYS)
            )
        return Rule(name, op, value)
    value = _text(value, where)
    if not value:
        raise SegmentError(gettext("%(where)s: give a value.", where=where))
    return Rule(name, op, value)


def parse(data: Any, depth: int = 1, counter: list[int] | None = None) -> Group:
    """The tree read strictly (SegmentError for anything unexpected); references are checked when compiled."""
    counter = counter if counter is not None else [0]
    if not isinstance(data, dict):
        raise SegmentError(gettext("A segment is a group of conditions."))
    if set(data) - {"match", "rules"} or data.get("match") not in MATCHES:
        raise SegmentError(
            gettext("A group says whether all or any of its conditions must match, and lists them.")
        )
    items = data.get("rules")
    if not isinstance(items, list) or not items:
        raise SegmentError(gettext("Add at least one condition."))
    parsed: list[Rule | Group] = []
    for item in items:
        if not isinstance(item, dict):
            raise SegmentError(gettext("Each condition is an object."))
        if "rules" in item:
            if depth >= MAX_DEPTH:
                raise SegmentError(gettext("Groups can be nested %(max)s deep at most.", max=MAX_DEPTH))
            parsed.append(parse(item, depth + 1, counter))
            continue
        counter[0] += 1
        if counter[0] > MAX_RULES:
            raise SegmentError(gettext("A segment can have %(max)s conditions at most.", max=MAX_RULES))
        parsed.append(_rule(item, gettext("Condition %(number)s", number=counter[0])))
    return Group(data["match"], tuple(parsed))


def to_json(group: Group) -> dict:
    """The tree as stored (the canonical form of what was parsed)."""
    return {
        "match": group.match,
        "rules": [
            to_json(item)
            if isinstance(item, Group)
            else {"field": item.field, "op": item.op, "value": item.value}
            for item in group.items
        ],
    }


def _date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SegmentError(
            gettext("%(where)s: write the date as YYYY-MM-DD, like 2026-01-31.", where=where)
        ) from None


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _since(days: Any) -> datetime:
    return utcnow() - timedelta(days=int(days))


def _ops_of(name: str, custom: ContactField | None) -> tuple[str, ...]:
    if custom is not None:
        return FIELD_TYPE_OPS.get(custom.value_type, TEXT_OPS)
    return BUILTIN[name][1]


def _custom_field(name: str, where: str) -> ContactField:
    key = name[len(FIELD_PREFIX) :]
    custom = db.session.execute(select(ContactField).where(ContactField.key == key)).scalar_one_or_none()
    if custom is None or not custom.active:
        raise SegmentError(gettext("%(where)s: there is no field “%(field)s”.", where=where, field=key[:60]))
    if custom.is_sensitive:
        raise SegmentError(
            gettext(
                "%(where)s: “%(field)s” is a sensitive field: it is never used to select people "
                "(Art. 9 GDPR data stays encrypted and out of targeting).",
                where=where,
                field=custom.label,
            )
        )
    return custom


class _Compiler:
    """Turns each rule into a condition on the contacts table; one instance per compilation."""

    def __init__(self) -> None:
        self.activity: set[str] = set()
        self.where = ""

    def group(self, group: Group, counter: list[int]) -> ColumnElement[bool]:
        parts = []
        for item in group.items:
            if isinstance(item, Group):
                parts.append(self.group(item, counter))
            else:
                counter[0] += 1
                self.where = gettext("Condition %(number)s", number=counter[0])
                parts.append(self.rule(item))
        return and_(*parts) if group.match == "all" else or_(*parts)

    def rule(self, rule: Rule) -> ColumnElement[bool]:
        custom = _custom_field(rule.field, self.where) if rule.field.startswith(FIELD_PREFIX) else None
        if custom is None and rule.field not in BUILTIN:
            raise SegmentError(
                gettext("%(where)s: unknown field “%(field)s”.", where=self.where, field=rule.field[:60])
            )
        if rule.op not in _ops_of(rule.field, custom):
            raise SegmentError(
                gettext(
                    "%(where)s: “%(operator)s” does not apply to this field.",
                    where=self.where,
                    operator=OPS[rule.op][0],
                )
            )
        if custom is not None:
            return self.custom(custom, rule)
        return getattr(self, f"builtin_{rule.field}")(rule)

    # Built-in fields

    def builtin_email_domain(self, rule: Rule) -> ColumnElement[bool]:
        domain = str(rule.value).lower().lstrip("@")
        if not DOMAIN_RE.match(domain):
            raise SegmentError(gettext("%(where)s: write a domain like example.com.", where=self.where))
        matches = func.lower(Contact.email).endswith("@" + domain, autoescape=True)
        return matches if rule.op == "is" else not_(func.coalesce(matches, false()))

    def builtin_status(self, rule: Rule) -> ColumnElement[bool]:
        if rule.value not in CONTACT_STATUSES:
            raise SegmentError(
                gettext(
                    "%(where)s: the status is one of %(choices)s.",
                    where=self.where,
                    choices=", ".join(CONTACT_STATUSES),
                )
            )
        return Contact.status == rule.value if rule.op == "is" else Contact.status != rule.value

    def builtin_signed_up(self, rule: Rule) -> ColumnElement[bool]:
        if rule.op == "within_days":
            return Contact.created_at >= _since(rule.value)
        if rule.op == "over_days_ago":
            return Contact.created_at < _since(rule.value)
        day = _date(rule.value, self.where)
        if rule.op == "before":
            return Contact.created_at < _day_start(day)
        return Contact.created_at >= _day_start(day + timedelta(days=1))

    def builtin_source_form(self, rule: Rule) -> ColumnElement[bool]:
        form = db.session.execute(select(Form).where(Form.slug == rule.value)).scalar_one_or_none()
        if form is None:
            raise SegmentError(
                gettext(
                    "%(where)s: there is no sign-up form “%(value)s”.",
                    where=self.where,
                    value=str(rule.value)[:60],
                )
            )
        source = f"form:{form.slug}"
        if rule.op == "is":
            return Contact.source == source
        return func.coalesce(Contact.source, "") != source

    def builtin_list(self, rule: Rule) -> ColumnElement[bool]:
        mailing_list = db.session.execute(
            select(MailingList).where(MailingList.public_id == rule.value)
        ).scalar_one_or_none()
        if mailing_list is None:
            raise SegmentError(gettext("%(where)s: there is no such list.", where=self.where))
        status = "confirmed" if rule.op == "not_on" else rule.op
        on = exists().where(
            Subscription.contact_id == Contact.id,
            Subscription.list_id == mailing_list.id,
            Subscription.status == status,
        )
        return not_(on) if rule.op == "not_on" else on

    def builtin_consent(self, rule: Rule) -> ColumnElement[bool]:
        purpose = db.session.execute(
            select(Purpose).where(Purpose.public_id == rule.value)
        ).scalar_one_or_none()
        if purpose is None or _is_field_purpose(purpose):
            raise SegmentError(gettext("%(where)s: there is no such purpose to select by.", where=self.where))
        granted = _granted(purpose.id)
        return granted if rule.op == "granted" else not_(granted)

    def builtin_tag(self, rule: Rule) -> ColumnElement[bool]:
        tag = db.session.execute(
            select(Tag).where(Tag.key == str(rule.value).casefold())
        ).scalar_one_or_none()
        if tag is None:
            raise SegmentError(
                gettext(
                    "%(where)s: there is no tag “%(value)s”.", where=self.where, value=str(rule.value)[:60]
                )
            )
        has = exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag_id == tag.id)
        return has if rule.op == "has" else not_(has)

    def builtin_language(self, rule: Rule) -> ColumnElement[bool]:
        # Unknown (no value) is its own case: such people get mail in English, but nobody chose it.
        if rule.op == "is_set":
            return Contact.language.in_(LANGUAGES)
        if rule.op == "is_not_set":
            return func.coalesce(Contact.language, "").not_in(LANGUAGES)
        if rule.value not in LANGUAGES:
            raise SegmentError(
                gettext(
                    "%(where)s: the language is one of %(choices)s.",
                    where=self.where,
                    choices=", ".join(LANGUAGES),
                )
            )
        if rule.op == "is":
            return Contact.language == rule.value
        return func.coalesce(Contact.language, "") != rule.value

    def builtin_bounced(self, rule: Rule) -> ColumnElement[bool]:
        bounced = exists().where(
            Suppression.email_hash == Contact.email_hash, Suppression.reason == SuppressionReason.HARD_BOUNCE
        )
        return bounced if rule.op == "yes" else not_(bounced)

    def _activity(self, rule: Rule) -> ColumnElement[bool]:
        """Opened or clicked: only among contacts who consented to that tracking (the others are unseen)."""
        purpose_key = ACTIVITY_PURPOSE[rule.field]
        self.activity.add(purpose_key)
        purpose_id = db.session.execute(select(Purpose.id).where(Purpose.key == purpose_key)).scalar()
        if rule.op in ("campaign", "not_campaign"):
            active = hooks.activity(ACTIVITY_KIND[rule.field], str(rule.value), None)
            if active is None:
                raise SegmentError(gettext("%(where)s: there is no such campaign.", where=self.where))
        else:
            active = hooks.activity(ACTIVITY_KIND[rule.field], None, _since(rule.value))
        if purpose_id is None:
            return false()
        if rule.op in ("campaign", "any_within_days"):
            # one set, the active who consented (not two probes per contact): the same contacts
            actor = active.selected_columns[0]
            return Contact.id.in_(active.where(actor.in_(_granted_ids(purpose_id))))
        return and_(_granted(purpose_id), not_(Contact.id.in_(active)))

    builtin_opened = _activity
    builtin_clicked = _activity

    # Custom fields

    def custom(self, custom: ContactField, rule: Rule) -> ColumnElement[bool]:
        rows = ContactFieldValue
        base = [rows.contact_id == Contact.id, rows.field_id == custom.id]
        if rule.op == "is_set":
            return exists().where(*base)
        if rule.op == "is_not_set":
            return not_(exists().where(*base))
        if custom.value_type == "yes_no":
            return exists().where(*base, rows.value == rule.op)
        if custom.value_type == "number":
            number = _number(custom, rule.value, self.where)
            column = rows.number_value
            compare = {
                "eq": column == number,
                "ne": column != number,
                "gt": column > number,
                "gte": column >= number,
                "lt": column < number,
                "lte": column <= number,
            }[rule.op]
            return exists().where(*base, compare)
        if custom.value_type == "date":
            day_column = rows.date_value
            if rule.op in ("within_days", "over_days_ago"):
                since = _since(rule.value).date()
                compare = day_column >= since if rule.op == "within_days" else day_column < since
            else:
                day = _date(rule.value, self.where)
                compare = {"on": day_column == day, "before": day_column < day, "after": day_column > day}[
                    rule.op
                ]
            return exists().where(*base, compare)
        value = self._clean(custom, rule)
        if rule.op in ("has", "has_not"):
            joined = literal(CHOICE_SEPARATOR) + rows.value + literal(CHOICE_SEPARATOR)
            found = exists().where(
                *base, joined.contains(f"{CHOICE_SEPARATOR}{value}{CHOICE_SEPARATOR}", autoescape=True)
            )
            return found if rule.op == "has" else not_(found)
        lowered = func.lower(rows.value)
        compare = {
            "is": rows.value == value,
            "is_not": rows.value == value,
            "contains": lowered.contains(value.lower(), autoescape=True),
            "starts_with": lowered.startswith(value.lower(), autoescape=True),
        }[rule.op]
        found = exists().where(*base, compare)
        return not_(found) if rule.op == "is_not" else found

    def _clean(self, custom: ContactField, rule: Rule) -> str:
        """A value to compare with, in the form values are stored (so "Silver" finds "silver")."""
        if rule.op in ("contains", "starts_with"):
            return str(rule.value)
        try:
            if custom.value_type == "multiple_choice":
                return clean_value(_single(custom), str(rule.value), custom.label)
            return clean_value(custom, str(rule.value), custom.label)
        except PrivacyError as exc:
            raise SegmentError(gettext("%(where)s: %(problem)s", where=self.where, problem=exc)) from None


def _single(custom: ContactField) -> ContactField:
    """The multiple-choice field read as a single choice (one choice at a time is looked for)."""
    return ContactField(
        key=custom.key, label=custom.label, value_type="single_choice", choices=custom.choices
    )


def _number(custom: ContactField, value: Any, where: str) -> float:
    try:
        return float(clean_value(custom, str(value), custom.label))
    except (PrivacyError, ValueError):
        raise SegmentError(
            gettext(
                "%(where)s: “%(field)s” is compared with a number, like 42 or 3.5.",
                where=where,
                field=custom.label,
            )
        ) from None


def _granted_ids(purpose_id: int) -> Select:
    """The contacts who granted this purpose (as a set: PostgreSQL hashes it once instead of probing per
    contact)."""
    return select(ConsentState.contact_id).where(
        ConsentState.purpose_id == purpose_id, ConsentState.status == "granted"
    )


def _granted(purpose_id: int) -> ColumnElement[bool]:
    return Contact.id.in_(_granted_ids(purpose_id))


def _erased_ids() -> Select:
    """Erased contacts, few: excluding them as a set lets PostgreSQL count from the contacts' primary key
    alone (an index-only scan) instead of reading a million rows for their status."""
    return select(Contact.id).where(Contact.status == ContactStatus.ERASED)


def _is_field_purpose(purpose: Purpose) -> bool:
    """A sensitive field's explicit-consent purpose: its answer says something sensitive, never selected."""
    return (
        db.session.execute(select(ContactField.id).where(ContactField.purpose_id == purpose.id)).first()
        is not None
    )


def compile_tree(data: Any) -> Compiled:
    """ONE select of the ids of matching contacts (erased contacts never match); SegmentError when invalid."""
    group = parse(data)
    compiler = _Compiler()
    condition = compiler.group(group, [0])
    query = select(Contact.id).where(Contact.id.not_in(_erased_ids()), condition)
    return Compiled(query, compiler.activity)


@dataclass
class Count:
    """How many contacts match, and per activity purpose how many the condition cannot see."""

    matching: int
    unseen: dict[str, int] = field(default_factory=dict)


def count(data: Any) -> Count:
    """The live count of a tree (one COUNT over the compiled select, plus one per activity purpose used)."""
    compiled = compile_tree(data)
    with _room_to_hash():
        matching = db.session.execute(
            select(func.count()).select_from(compiled.query.subquery())
        ).scalar_one()
        unseen = {}
        if compiled.activity:  # everyone not erased, from the kept totals (a count read every contact)
            kept = counters.totals("contact_counts")
            everyone = sum(n for (status,), n in kept.items() if status != ContactStatus.ERASED)
        for key in sorted(compiled.activity):
            purpose_id = db.session.execute(select(Purpose.id).where(Purpose.key == key)).scalar()
            consented = 0
            # who granted it, erased people aside (a state's contact always exists: contacts are never
            # deleted, their ledger events keep them); everyone else is unseen
            if purpose_id is not None:
                consented = db.session.execute(
                    select(func.count()).where(
                        ConsentState.purpose_id == purpose_id,
                        ConsentState.status == "granted",
                        ConsentState.contact_id.not_in(_erased_ids()),
                    )
                ).scalar_one()
            unseen[TRACKING_PURPOSES[key][0]] = everyone - consented
    return Count(int(matching), unseen)


@contextmanager
def _room_to_hash() -> Iterator[None]:
    """On PostgreSQL, memory enough for this transaction's next statements to hash each condition's set of
    contacts once (at a million contacts a set outgrows the default 4 MB, and PostgreSQL then probes the
    condition again for every contact); the default is back afterwards."""
    if db.session.get_bind().dialect.name != "postgresql":
        yield
        return
    db.session.execute(text(f"SET LOCAL work_mem = '{HASH_MEMORY}'"))
    yield  # a failed statement aborts the transaction, whose end resets the setting anyway
    db.session.execute(text("SET LOCAL work_mem TO DEFAULT"))
