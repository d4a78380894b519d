"""Proof of double opt-in (REQUIREMENTS G1) and of re-confirmations, assembled from the ledger alone."""

from dataclasses import dataclass, field

from mailer.consent.ledger import contact_history
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact


@dataclass
class OptInRecord:
    """One sign-up and what followed it: the request, the confirmation email(s), the confirmation."""

    requested: list[ConsentEvent] = field(default_factory=list)
    emails: list[ConsentEvent] = field(default_factory=list)
    confirmed: list[ConsentEvent] = field(default_factory=list)

    @property
    def first(self) -> ConsentEvent:
        return self.requested[0]

    @property
    def notice(self):
        return self.first.notice


def opt_in_evidence(contact: Contact) -> list[OptInRecord]:
    """Group the ledger into sign-ups: each 'requested' burst, the emails sent after it, and its
    confirmation."""
    records: list[OptInRecord] = []
    current: OptInRecord | None = None
    for ev in contact_history(contact):
        if ev.action == "requested":
            if current is None or current.emails or current.confirmed:
                current = OptInRecord()
                records.append(current)
            current.requested.append(ev)
        elif current is not None and ev.action == "confirmation_sent":
            current.emails.append(ev)
        elif current is not None and ev.action == "confirmed":
            current.confirmed.append(ev)
    return records


@dataclass
class ReconfirmationRecord:
    """A list's request to re-confirm (the email, with the version of its words) and the person's answer: a
    "granted" event (kept) or a "withdrawn" one (no answer by the deadline); None while it waits."""

    request: ConsentEvent
    answer: ConsentEvent | None = None


def reconfirmation_evidence(contact: Contact) -> list[ReconfirmationRecord]:
    """Each "reconfirmation_sent" event with the answer that followed it for the same list."""
    records: list[ReconfirmationRecord] = []
    open_by_purpose: dict[int | None, ReconfirmationRecord] = {}
    answers = {"reconfirmed": "granted", "no_reconfirmation": "withdrawn"}
    for ev in contact_history(contact):
        if ev.action == "reconfirmation_sent":
            record = ReconfirmationRecord(ev)
            records.append(record)
            open_by_purpose[ev.purpose_id] = record
        elif ev.purpose_id in open_by_purpose:
            reason = str((ev.details or {}).get("reason"))
            if answers.get(reason) == ev.action:
                open_by_purpose.pop(ev.purpose_id).answer = ev
    return records
