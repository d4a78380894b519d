"""Proof of double opt-in (REQUIREMENTS G1), assembled from the consent ledger alone."""

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
