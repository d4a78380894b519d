"""Purposes, immutable versioned notices and the append-only, hash-chained consent ledger."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.core.clock import utcnow
from mailer.core.extensions import Model, db
from mailer.core.ids import new_public_id

PURPOSE_KINDS = ("list", "tracking_open", "tracking_click", "other")
# The purpose the sending engine checks (created by the privacy domain): an objection to it stops all
# marketing.
DIRECT_MARKETING_KEY = "direct-marketing"

# Ledger action -> resulting consent state for the purpose (None: the action does not change consent).
ACTION_STATES = {
    "requested": "pending",  # ticked on a form, awaiting double opt-in
    "granted": "granted",  # given by an already-verified person (preference centre, admin with proof)
    "confirmed": "granted",  # double opt-in completed
    "withdrawn": "withdrawn",
    "objected": "objected",
    "expired": "expired",  # never confirmed, purged by retention
    "confirmation_sent": None,
    "reconfirmation_sent": None,  # a list asked whether the person still wants it (re-permission)
    "restricted": None,
    "unrestricted": None,
    "erased": None,
}

# Ledger columns holding personal data: they may be blanked by erasure; the chain covers their digest instead.
LEDGER_PERSONAL_FIELDS = ("email", "ip", "user_agent")


class Purpose(Model):
    """Something personal data is used for: a list, open tracking, click tracking, or another use."""

    __tablename__ = "purposes"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="other")
    legal_basis: Mapped[str] = mapped_column(String(40), default="consent")
    list_id: Mapped[int | None] = mapped_column(ForeignKey("mailing_lists.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    mailing_list = relationship("MailingList", back_populates="purpose")


class Notice(Model):
    """The exact words a person was shown (form text, checkbox labels, privacy notice); never edited."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_notices_key_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int]
    content: Mapped[dict] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentEvent(Model):
    """One ledger entry. Rows are only ever appended; each hashes its predecessor."""

    __tablename__ = "consent_events"
    __table_args__ = (
        # a contact's latest event for a purpose (consent when a campaign was sent: campaign stats)
        Index("ix_consent_events_contact_purpose", "contact_id", "purpose_id", "id"),
        # recent events by action (the dashboard's week) and a list purpose's events by day (list stats)
        Index("ix_consent_events_action_created", "action", "created_at"),
        Index("ix_consent_events_purpose_created", "purpose_id", "created_at", "action"),
        # who left through a campaign's links (campaign stats; PostgreSQL's query matches it)
        Index(
            "ix_consent_events_campaign",
            text("(details ->> 'campaign')"),
            postgresql_where=text("(details ->> 'campaign') IS NOT NULL"),
            sqlite_where=text("(details ->> 'campaign') IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # looked up through ix_consent_events_contact_purpose and _purpose_created (their leading columns)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    purpose_id: Mapped[int | None] = mapped_column(ForeignKey("purposes.id"))
    action: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(120))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    email: Mapped[str | None] = mapped_column(String(320))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    pii_salt: Mapped[str | None] = mapped_column(String(64))
    pii_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))  # not indexed: migration 0066

    purpose = relationship("Purpose")
    notice = relationship("Notice")
    contact = relationship("Contact")


class ConsentState(Model):
    """Current consent per contact and purpose: a cache derived from the ledger, rebuildable at any time.

    No foreign keys (migration 0056): each row names the ledger event that decided it, and that event's own
    keys hold the contact and the purpose; checking them again cost most of an import's write of this row."""

    __tablename__ = "consent_states"
    # Who granted a purpose (migration 0065): a segment's activity condition and its count of the contacts
    # it cannot see read it alone (an index-only scan), not two million states. Partial, so a lookup of one
    # contact's state (any status) keeps the primary key: with (purpose_id, status, contact_id) the planner
    # took the new index for an import's per-contact lookup and scanned a purpose's states for each one.
    __table_args__ = (
        Index(
            "ix_consent_states_granted",
            "purpose_id",
            "contact_id",
            postgresql_where=text("status = 'granted'"),
            sqlite_where=text("status = 'granted'"),
        ),
    )

    contact_id: Mapped[int] = mapped_column(primary_key=True)
    purpose_id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    purpose = relationship("Purpose", primaryjoin="foreign(ConsentState.purpose_id) == Purpose.id")


class LedgerHead(Model):
    """Single row holding the newest ledger hash; locked while appending so the chain never forks."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    last_event_id: Mapped[int] = mapped_column(default=0)


class LedgerCheckpoint(Model):
    """A ledger prefix proven intact by `flask consent verify`: an incremental run starts after the newest."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int]  # the last event verified
    hash: Mapped[str] = mapped_column(String(64))  # its hash, which the next event must link to
    checked: Mapped[int]  # events verified in that run
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(Notice, "before_update")
def _notice_is_immutable(mapper, connection, target):
    """Notices are evidence: a change must be a new version, never an edit."""
    raise ValueError("Notices are immutable; create a new version instead")


@event.listens_for(ConsentEvent, "before_update")
def _ledger_is_append_only(mapper, connection, target):
    """Only erasure may blank the personal columns of a ledger row; nothing else may change."""
    state = db.inspect(target)
    for attr in state.attrs:
        if attr.key in LEDGER_PERSONAL_FIELDS or attr.key == "pii_salt":
            if attr.history.added and attr.history.added[0] is not None:
                raise ValueError("Ledger rows are append-only")
            continue
        if attr.history.has_changes():
            raise ValueError("Ledger rows are append-only")


@event.listens_for(ConsentEvent, "before_delete")
def _ledger_is_not_deleted(mapper, connection, target):
    """Ledger rows are never deleted."""
    raise ValueError("Ledger rows are append-only")
