"""One run of a batch message: claim small chunks, send them group by group over the thread's SMTP pipeline.

A group is at most SEND_PIPELINE_DEPTH messages (fewer when the rate allows fewer): built first, then marked
handed to the relay together with the previous group's outcomes in one transaction, then submitted. So after a
crash at most a group (and the one message still open in the pipeline) per thread is uncertain; everything
else claimed goes back to the queue. A temporary refusal waits per delivery (exponential backoff with jitter);
a relay that does not answer makes the whole campaign wait (Campaign.waiting_until) without using up anyone's
attempts.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from mailer.core import metrics
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.logs import log_context
from mailer.delivery import replies as bounces
from mailer.delivery.claims import Claims, durably
from mailer.delivery.failover import FailoverPipeline, Route
from mailer.delivery.hooks import Refusal
from mailer.delivery.models import TRACKED_CLICKS, TRACKED_OPENS, DeliveryStatus
from mailer.delivery.ratelimit import send_rate
from mailer.delivery.store import BuiltMessage, MessageBuilder, Recipient, RecipientStore, SendingState
from mailer.delivery.throttles import next_midnight, throttles
from mailer.delivery.transport import NoReply, get_transport

log = logging.getLogger(__name__)
STATUS_CHECK_SECONDS = 1.0  # pause / cancel / a wait for the relay reach running batches within this long
TEMPORARY_IN_A_ROW_MEANS_RELAY = (
    10  # this many temporary refusals with no success between: the relay, not them
)
RETRY_MAX_SECONDS = 6 * 3600


class Control:
    """Re-reads the campaign's sending state at most once a second, so running batches follow it fast."""

    def __init__(self, store: RecipientStore, campaign_id: int, state: SendingState):
        self.store = store
        self.campaign_id = campaign_id
        self.state = state
        self.checked = time.monotonic()

    @property
    def waiting_until(self) -> datetime | None:
        return self.state.waiting_until

    def _refresh(self) -> None:
        def work() -> SendingState:
            state = self.store.sending_state(self.campaign_id)
            db.session.commit()
            return state or SendingState(sending=False, cancelled=False, waiting_until=None)

        self.state = durably(work, "checking the campaign's status")
        self.checked = time.monotonic()

    def stopped(self) -> bool:
        if time.monotonic() - self.checked >= STATUS_CHECK_SECONDS:
            self._refresh()
        return not self.state.sending

    def cancelled(self) -> bool:
        """The campaign was cancelled (as last read): what is still claimed is skipped, not released."""
        return self.state.cancelled

    def waiting(self) -> bool:
        """The campaign waits for the relay: claim nothing until waiting_until."""
        return self.waiting_until is not None and self.waiting_until > utcnow()


@dataclass
class Totals:
    """What one run did, for the automatic pause: messages handed over, permanent and policy refusals."""

    attempts: int = 0
    errors: int = 0
    policy: int = 0
    last_error: str = ""


def chunk_size() -> int:
    """Deliveries to claim at once: at most SEND_CHUNK_SIZE, and no more than about a second's worth."""
    config = current_app.config
    rate = float(config.get("SEND_RATE_PER_SECOND") or 0)
    size = config["SEND_CHUNK_SIZE"]
    return max(1, min(size, int(rate))) if rate > 0 else size


def _tracking(rec: Recipient) -> int:
    """The recipient's tracking consent as read for this message, as Delivery.tracking keeps it."""
    return (TRACKED_OPENS if rec.track_opens else 0) | (TRACKED_CLICKS if rec.track_clicks else 0)


def retry_at(attempts: int) -> datetime:
    """Exponential backoff from SEND_RETRY_BACKOFF_SECONDS, ±20 % jitter so retries don't arrive together."""
    base = current_app.config["SEND_RETRY_BACKOFF_SECONDS"] * 2 ** max(0, attempts - 1)
    return utcnow() + timedelta(seconds=min(base, RETRY_MAX_SECONDS) * random.uniform(0.8, 1.2))


class BatchRun:
    """Sends the due deliveries of one batch until it is done, stopped, out of time or the relay is down."""

    def __init__(
        self,
        store: RecipientStore,
        campaign_id: int,
        batch: int,
        composer: MessageBuilder,
        control: Control,
        worker_id: str,
        route: Route | None = None,
    ):
        self.store = store
        self.campaign_id = campaign_id
        self.composer = composer
        self.control = control
        self.claims = Claims(store, campaign_id, batch, worker_id)
        self.totals = Totals()
        self.route = route  # the campaign's named relays, or None: the default transport
        self.rate = send_rate()  # without a route; a route's pipeline paces by the relay in use
        self.throttles = throttles()  # recipient-domain caps and warm-up allowances
        config = current_app.config
        self.depth = max(1, config["SEND_PIPELINE_DEPTH"])
        self.max_attempts = config["SEND_MAX_ATTEMPTS"]
        self.relay_wait: datetime | None = None  # set when the relay stopped answering
        self.temporary_in_a_row = 0
        self.taken_over = False
        # The relay named in metrics: the campaign's first relay (a sent message names the one that took it).
        self.relay = route.hops[0].name if route is not None else relay_label(get_transport())
        self.handed_at: dict[int, float] = {}  # delivery id → when its message went to the pipeline

    def run(self, seconds: float, too_many_errors: Callable[[Totals], bool]) -> str:
        """Chunk after chunk; returns why it ended: done, stopped, relay, errors, time or taken."""
        started = time.monotonic()
        try:
            while True:
                if self.control.stopped():
                    return "stopped"
                if self.relay_wait or self.control.waiting():
                    return "relay"
                claimed = self.claims.claim(chunk_size())
                if not claimed:
                    return "done"
                self._send_chunk(claimed)
                if self.taken_over:
                    return "taken"
                if too_many_errors(self.totals):
                    return "errors"
                if time.monotonic() - started > seconds:
                    return "time"
        finally:
            unsent = self.claims.unsent()
            if unsent and self.control.cancelled():
                for d_id in unsent:
                    self.claims.finished(d_id, DeliveryStatus.SKIPPED, None, "cancelled")
            elif unsent and (self.relay_wait or self.control.waiting()):
                self.claims.release(
                    unsent, self.relay_wait or self.control.waiting_until, "waiting for the relay"
                )
            self.claims.close()

    def _send_chunk(self, claimed: list[tuple[int, int, int | None, int]]) -> None:
        """Re-check, then build, hand over and submit group by group; the pipeline finishes on any way out."""

        def recheck() -> list[Recipient]:
            found = self.store.recheck(
                self.campaign_id, [(d_id, c_id, l_id) for d_id, c_id, l_id, _ in claimed]
            )
            db.session.commit()  # end the read transaction: nothing is held open while talking SMTP
            return found

        recipients = durably(recheck, "re-checking eligibility")
        for rec in recipients:
            if rec.skip_reason:
                self.claims.finished(rec.delivery_id, DeliveryStatus.SKIPPED, None, rec.skip_reason)
        pending = self._within_limits([rec for rec in recipients if not rec.skip_reason])
        pipeline = self.route.pipeline() if self.route is not None else get_transport().pipeline()
        position = 0
        try:
            while position < len(pending) and not self.relay_wait:
                if self.control.stopped() or self.control.waiting():
                    return
                limiter = pipeline.limiter() if isinstance(pipeline, FailoverPipeline) else self.rate
                tokens = limiter.acquire(
                    min(self.depth, len(pending) - position),
                    self.control.stopped,
                    before_wait=lambda: self._collect(pipeline.finish()),
                )
                if not tokens:
                    return
                group = self._build(pending[position : position + tokens])
                position += tokens
                handed = [(rec.delivery_id, built.message_id) for rec, built in group]
                tracking = {rec.delivery_id: _tracking(rec) for rec, _ in group}
                if not self.claims.hand_over(handed, tracking):
                    self.taken_over = True
                    return
                for index, (rec, built) in enumerate(group):
                    if self.relay_wait:  # the relay is down: what is left of the group goes back to the queue
                        self.claims.release(
                            [r.delivery_id for r, _ in group[index:]],
                            self.relay_wait,
                            "waiting for the relay",
                        )
                        break
                    self.totals.attempts += 1
                    self.handed_at[rec.delivery_id] = time.monotonic()
                    self._collect(
                        pipeline.submit(
                            (rec, built.message_id), built.envelope_from, rec.email, built.raw, built.dot_safe
                        )
                    )
        finally:
            self._collect(pipeline.finish())  # the last message's content goes out even when stopping

    def _within_limits(self, recipients: list[Recipient]) -> list[Recipient]:
        """Those that may go now; the rest back to the queue (attempt not counted) until their limit allows.

        First the recipient domains' caps (a token each), then the sending domain's warm-up allowance for the
        day: a message over it waits for the next UTC midnight.
        """
        limits = self.throttles
        if not limits.active or not recipients:
            return recipients
        allowed = []
        for rec in recipients:
            wait = limits.recipient_wait(rec.email)
            if wait is None:
                allowed.append(rec)
            else:
                self.claims.release([rec.delivery_id], *wait)
        granted, reason = limits.warmup_grant(self.control.state.sending_domain, len(allowed))
        if granted < len(allowed):
            later = [rec.delivery_id for rec in allowed[granted:]]
            self.claims.release(later, next_midnight(utcnow()), reason)
        return allowed[:granted]

    def _build(self, recipients: list[Recipient]) -> list[tuple[Recipient, BuiltMessage]]:
        """Build each message; one that can't be built fails alone (a merge-field error), not the batch."""
        group = []
        for rec in recipients:
            try:
                group.append(
                    (
                        rec,
                        self.composer.build(
                            delivery_id=rec.delivery_id,
                            contact_public_id=rec.public_id,
                            list_id=rec.list_id,
                            email=rec.email,
                            name=rec.name,
                            attributes=rec.attributes,
                            fields=rec.fields,
                            language=rec.language,
                            track_opens=rec.track_opens,
                            track_clicks=rec.track_clicks,
                        ),
                    )
                )
            except Exception as exc:
                self.claims.finished(
                    rec.delivery_id, DeliveryStatus.FAILED, None, f"could not build the message: {exc}"
                )
                self._count(rec, "failed")
        return group

    def _collect(self, outcomes: list[tuple[Any, Any]]) -> None:
        """Sort the transport's outcomes (SMTP reply or exception per message) into the claims."""
        for (rec, _message_id), outcome in outcomes:
            if not isinstance(outcome, Exception):
                self.claims.sent(rec.delivery_id, outcome.relay)
                self._count(rec, "sent", outcome.relay)
                self.temporary_in_a_row = 0
            elif isinstance(outcome, NoReply):
                self._count(rec, "uncertain")
                self.claims.finished(
                    rec.delivery_id,
                    DeliveryStatus.UNCERTAIN,
                    None,
                    "uncertain: the relay's connection broke after it received the message and "
                    "before it answered; it may or may not have gone out (not resent)",
                )
            else:
                self._failed(rec, bounces.outcome_of(outcome))

    def _failed(self, rec: Recipient, outcome: bounces.SmtpOutcome) -> None:
        """One refused or failed attempt: wait for the relay, retry later, or record it as final."""
        claims = self.claims
        if (
            outcome.code is None or outcome.code == 421
        ):  # no connection, or the relay is closing it: not their fault
            self.relay_wait = self.relay_wait or self.store.wait_for_relay(
                self.campaign_id, outcome.describe()
            )
            claims.release([rec.delivery_id], self.relay_wait, f"waiting for the relay: {outcome.describe()}")
            self._count(rec, "deferred")
            return
        if outcome.kind == bounces.HARD:
            self._count_error(outcome)
            claims.finished(
                rec.delivery_id,
                DeliveryStatus.BOUNCED,
                outcome.code,
                f"hard bounce: {outcome.describe()}",
                refusal=Refusal(rec.delivery_id, outcome.code, outcome.text, rec.email_hash, hard=True),
            )
            self._count(rec, "bounced")
        elif outcome.kind == bounces.POLICY:
            self._count_error(outcome)
            self.totals.policy += 1
            with log_context(delivery_id=rec.delivery_id):
                log.error(
                    "Campaign message refused by policy (%s): check SPF, DKIM, DMARC and the relay's "
                    "settings",
                    outcome.describe(),
                )
            claims.finished(
                rec.delivery_id,
                DeliveryStatus.FAILED,
                outcome.code,
                f"refused by policy (our sending setup, not the address): {outcome.describe()}",
                refusal=Refusal(rec.delivery_id, outcome.code, outcome.text, rec.email_hash, hard=False),
            )
            self._count(rec, "failed")
        else:
            self._temporary(rec, outcome)

    def _temporary(self, rec: Recipient, outcome: bounces.SmtpOutcome) -> None:
        attempts = self.claims.attempts_of.get(rec.delivery_id, self.max_attempts)
        if attempts >= self.max_attempts:
            status = DeliveryStatus.BOUNCED if "5.2.2" in outcome.text else DeliveryStatus.FAILED
            self.claims.finished(
                rec.delivery_id,
                status,
                outcome.code,
                f"gave up after {attempts} attempts: {outcome.describe()}",
            )
            self._count(rec, str(status))
        else:
            when = retry_at(attempts)
            self.claims.retry(
                rec.delivery_id,
                outcome.code,
                f"will retry at {when:%H:%M:%S} UTC: {outcome.describe()}",
                when,
            )
            self._count(rec, "deferred")
        self.temporary_in_a_row += 1
        if self.temporary_in_a_row >= TEMPORARY_IN_A_ROW_MEANS_RELAY and not self.relay_wait:
            self.relay_wait = self.store.wait_for_relay(self.campaign_id, outcome.describe())

    def _count(self, rec: Recipient, outcome: str, relay: str = "") -> None:
        """The message's outcome in the metrics (with the relay's answer time when it was handed over)."""
        handed = self.handed_at.pop(rec.delivery_id, None)
        seconds = time.monotonic() - handed if handed is not None else None
        metrics.message_outcome(relay or self.relay, self.campaign_id, outcome, seconds)
        if log.isEnabledFor(logging.DEBUG):  # one line per message: ids and the relay's name only
            with log_context(delivery_id=rec.delivery_id):
                log.debug("Delivery %s: %s (relay %s)", rec.delivery_id, outcome, relay or self.relay)

    def _count_error(self, outcome: bounces.SmtpOutcome) -> None:
        self.totals.errors += 1
        self.totals.last_error = outcome.describe()


def relay_label(transport) -> str:
    """The relay's name in metrics: host:port of the SMTP relay (never its credentials), or "outbox"."""
    settings = getattr(transport, "settings", None)
    return f"{settings.host}:{settings.port}" if settings is not None else "outbox"
