"""The engine's view of whoever owns the recipients (the campaigns package implements it): listmonk's store.

The engine (engine.py, batch.py, claims.py, recovery.py) owns the deliveries table: claiming, handing over,
outcomes, release, recovery. Everything about the audience and the campaign it is sent for — who is eligible,
each recipient's message, the campaign's status, counters and waits — it asks the store for, and it reports
outcomes to the store instead of deciding the campaign's state itself.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select


@dataclass
class Recipient:
    """One claimed delivery and what the send-time check found."""

    delivery_id: int
    contact_id: int
    list_id: int | None
    public_id: str = ""
    email: str = ""
    email_hash: str | None = None
    name: str | None = None
    attributes: dict | None = None
    fields: dict | None = None  # ordinary custom field values by key, for merge tags (never sensitive ones)
    language: str | None = None  # the contact's language: their footer's
    skip_reason: str = ""
    track_opens: bool = False
    track_clicks: bool = False


@dataclass
class SendingState:
    """What a running batch follows: may it send, was it cancelled, until when does it wait for the relay."""

    sending: bool
    cancelled: bool
    waiting_until: datetime | None
    relay_id: int | None = None  # the named relay chosen (None: the default relay of SMTP_URL)
    failover_relay_id: int | None = None  # where messages go while the first relay is down
    sending_domain: str = ""  # the From domain (a domain in warm-up sends a daily allowance)


@dataclass
class Page:
    """The next planned page of recipients: its batch number and a SELECT of (contact_id, list_id).

    `values`: further delivery columns, the same for the whole page (e.g. the A/B test's winning variant).
    """

    batch: int
    recipients: Select[Any]
    values: dict[str, Any] = field(default_factory=dict)


class BuiltMessage(Protocol):
    """One recipient's finished message, as the transport takes it."""

    raw: bytes
    message_id: str
    envelope_from: str
    dot_safe: bool


class MessageBuilder(Protocol):
    """Turns one recipient into finished bytes (mailer.campaigns.composition.Composer)."""

    def build(
        self,
        *,
        delivery_id: int | None,
        contact_public_id: str,
        list_id: int | None,
        email: str,
        name: str | None,
        attributes: dict | None,
        track_opens: bool = False,
        track_clicks: bool = False,
        fields: dict | None = None,
        language: str | None = None,
    ) -> BuiltMessage:
        """The message for one recipient (`language`: theirs, for the footer)."""


class RecipientStore(Protocol):
    """Recipients and campaign state for the engine; every method runs in the session's transaction."""

    plan_actor: str  # the store's actor that runs engine.plan(store, campaign_id)
    batch_actor: str  # the store's actor that runs engine.send_batch(store, campaign_id, batch)

    def sending_state(self, campaign_id: int) -> SendingState | None:
        """Whether the campaign sends, and its relay wait (None when it is gone)."""

    def next_page(self, campaign_id: int, size: int) -> Page | None:
        """Move the planning cursor over the next `size` candidates; None when planning ended or stopped."""

    def planned(self, campaign_id: int, batch: int, created: int) -> None:
        """Deliveries of a new batch were created: count them open."""

    def composer(self, campaign_id: int, batch: int) -> MessageBuilder:
        """What builds this batch's messages (prepared once per campaign, variant and process)."""

    def recheck(self, campaign_id: int, claimed: Sequence[tuple[int, int, int | None]]) -> list[Recipient]:
        """Send-time eligibility of claimed (delivery id, contact id, list id) rows; what messages need."""

    def count_open(self, campaign_id: int, delta: int) -> None:
        """Deliveries opened (+) or finished (-) in the current transaction."""

    def record_progress(self, campaign_id: int, finished: int, mail_flowed: bool, now: datetime) -> None:
        """Outcomes were written: `finished` deliveries are final; mail flowing again ends a relay wait."""

    def wait_for_relay(self, campaign_id: int, why: str) -> datetime:
        """The relay does not answer: make the campaign wait (growing backoff); returns until when."""

    def refused_too_often(self, campaign_id: int, reason: str, policy: bool) -> None:
        """Too many permanent (or policy) refusals: the store decides what happens to the campaign."""

    def finish_if_done(self, campaign_id: int) -> bool:
        """Planning is over and nothing is open: the campaign is done (one row read)."""

    def in_flight(self) -> Select[Any]:
        """SELECT of the ids of campaigns that can still have deliveries in flight (recovery's scope)."""

    def stalled(self, now: datetime, idle_since: datetime) -> list[tuple[int, bool]]:
        """(id, planning done) of sending campaigns idle since then and not waiting, marked progressing."""

    def finish_done(self) -> list[int]:
        """Every sending campaign that is planned and has nothing open is done; their ids."""
