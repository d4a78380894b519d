"""A sending thread's hold on deliveries: claim, hand over to the relay, record outcomes, release.

A delivery being sent is "sending" with its worker's id. Until its group is handed to the SMTP pipeline
(handed_at, set in one statement just before) a dead worker's delivery simply goes back to the queue; from
then until its outcome is written it is what "uncertain" means: the relay may have it. Outcomes wait in memory
and are written with the next hand-over, one transaction per group, and the store's count of open deliveries
moves in the same transaction as the deliveries it counts. Every write is guarded by (status "sending", this
worker), so rows that recovery took from a worker it believed dead are never written over, and a lost database
connection is retried.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery import hooks as delivery_hooks
from mailer.delivery.hooks import Refusal
from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.delivery.relays import DEFAULT_RELAY_NAME
from mailer.delivery.store import RecipientStore

log = logging.getLogger(__name__)
DELIVERIES = Delivery.__table__
DATABASE_RETRY_SECONDS = 600  # how long a thread keeps unwritten outcomes while the database is unreachable


def durably(work, what: str):
    """Run a unit of database work, retrying while the database is unreachable (restart, failover, lock)."""
    deadline = time.monotonic() + DATABASE_RETRY_SECONDS
    delay = 0.2
    while True:
        try:
            return work()
        except DBAPIError as exc:
            transient = exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
            _rollback()
            if not transient or time.monotonic() > deadline:
                raise
            log.warning(
                "Database unavailable while %s (%s); retrying in %.1f s", what, exc.__class__.__name__, delay
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _run(statement, parameters=None):
    """A Core statement on the session's transaction (no ORM layer: this runs a few times per group)."""
    return db.session.connection().execute(statement, parameters)


def _rollback() -> None:
    try:
        db.session.rollback()
    except DBAPIError:
        db.session.remove()


@dataclass
class Unwritten:
    """Outcomes known to this thread and not yet in the database."""

    sent: dict[str, list[int]] = field(default_factory=dict)  # by the name of the relay that accepted them
    finished: list[dict] = field(
        default_factory=list
    )  # skipped, failed, bounced, uncertain: b_id, b_status, …
    retry: list[dict] = field(default_factory=list)  # back to the queue with a not-before time, attempt used
    released: list[dict] = field(default_factory=list)  # back to the queue, attempt given back
    refusals: list[Refusal] = field(default_factory=list)  # final refusals: the bounce log's (hooks)

    def __bool__(self) -> bool:
        return bool(self.sent or self.finished or self.retry or self.released)


class Claims:
    """The deliveries of one batch that this thread holds, and what became of them."""

    def __init__(self, store: RecipientStore, campaign_id: int, batch: int, worker_id: str):
        self.store = store
        self.campaign_id = campaign_id
        self.batch = batch
        self.worker_id = worker_id
        self.attempts_of: dict[int, int] = {}  # claimed and not yet written back: attempt number
        self.handed: set[int] = set()  # handed to the relay, outcome not yet written
        self.unwritten = Unwritten()
        self.mail_flowed = False  # a message was accepted since the last write (ends a wait for the relay)

    def _mine(self):
        return (DELIVERIES.c.status == DeliveryStatus.SENDING) & (DELIVERIES.c.worker_id == self.worker_id)

    def claim(self, size: int) -> list[tuple[int, int, int | None, int]]:
        """Write what is known, then move up to `size` queued, due deliveries to "sending" for this worker."""
        tries = []

        def work():
            tries.append(1)
            if len(tries) > 1:  # the last try may have committed a claim whose answer was lost: give it back
                _run(
                    update(DELIVERIES)
                    .where(
                        DELIVERIES.c.campaign_id == self.campaign_id,
                        DELIVERIES.c.batch == self.batch,
                        self._mine(),
                        DELIVERIES.c.handed_at.is_(None),
                        DELIVERIES.c.id.not_in(list(self.attempts_of)),
                    )
                    .values(status=DeliveryStatus.QUEUED, attempts=DELIVERIES.c.attempts - 1, worker_id=None)
                )
            self._write()
            now = utcnow()
            ids = (
                select(DELIVERIES.c.id)
                .where(
                    DELIVERIES.c.campaign_id == self.campaign_id,
                    DELIVERIES.c.batch == self.batch,
                    DELIVERIES.c.status == DeliveryStatus.QUEUED,
                    DELIVERIES.c.not_before_at.is_(None) | (DELIVERIES.c.not_before_at <= now),
                )
                .order_by(DELIVERIES.c.id)
                .limit(size)
            )
            rows = _run(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.id.in_(ids.scalar_subquery()), DELIVERIES.c.status == DeliveryStatus.QUEUED
                )
                .values(
                    status=DeliveryStatus.SENDING,
                    claimed_at=now,
                    worker_id=self.worker_id,
                    handed_at=None,
                    attempts=DELIVERIES.c.attempts + 1,
                )
                .returning(
                    DELIVERIES.c.id, DELIVERIES.c.contact_id, DELIVERIES.c.list_id, DELIVERIES.c.attempts
                )
            ).all()
            db.session.commit()
            self._written()
            return sorted(rows)

        rows = durably(work, "claiming deliveries")
        self.attempts_of.update({row[0]: row[3] for row in rows})
        return rows

    # --- outcomes, kept until the next write ---------------------------------------------------------------

    def sent(self, delivery_id: int, relay: str = "") -> None:
        self.unwritten.sent.setdefault(relay or DEFAULT_RELAY_NAME, []).append(delivery_id)
        self.mail_flowed = True

    def finished(
        self,
        delivery_id: int,
        status: str,
        code: int | None,
        reason: str,
        refusal: Refusal | None = None,
    ) -> None:
        self.unwritten.finished.append(
            {"b_id": delivery_id, "b_status": status, "b_code": code, "b_reason": reason[:300]}
        )
        if refusal is not None:
            self.unwritten.refusals.append(refusal)

    def retry(self, delivery_id: int, code: int | None, reason: str, not_before: datetime) -> None:
        self.unwritten.retry.append(
            {"b_id": delivery_id, "b_code": code, "b_reason": reason[:300], "b_not_before": not_before}
        )

    def release(self, delivery_ids, not_before: datetime | None = None, reason: str = "") -> None:
        """Give deliveries back to the queue unsent (their attempt does not count)."""
        self.unwritten.released += [
            {"b_id": d_id, "b_not_before": not_before, "b_reason": reason[:300]} for d_id in delivery_ids
        ]

    # --- writing --------------------------------------------------------------------------------------------

    def hand_over(self, group: list[tuple[int, str]], tracking: dict[int, int] | None = None) -> bool:
        """Write what is known and mark a group (delivery id, Message-ID) handed to the relay, in one go;
        `tracking` (delivery id: TRACKED_OPENS | TRACKED_CLICKS bits) keeps each recipient's tracking consent
        as it was read for this message (the stats' consenting counts come from it).

        False when some of the group is no longer this worker's (recovery took it): nothing of it may be sent.
        """
        ids = [d_id for d_id, _ in group]
        extra = {}
        if tracking:
            extra["tracking"] = case({d_id: tracking.get(d_id, 0) for d_id in ids}, value=DELIVERIES.c.id)

        def work():
            self._write()
            marked = _run(
                update(DELIVERIES)
                .where(DELIVERIES.c.id.in_(ids), self._mine(), DELIVERIES.c.handed_at.is_(None))
                .values(
                    handed_at=utcnow(),
                    message_id=case(
                        {d_id: message_id[:250] for d_id, message_id in group}, value=DELIVERIES.c.id
                    ),
                    **extra,
                )
            ).rowcount
            if marked != len(ids):
                db.session.rollback()
                return False
            db.session.commit()
            self._written()
            self.handed.update(ids)
            return True

        if not ids or durably(work, "handing messages to the relay"):
            return True
        log.warning(
            "Campaign %s: deliveries of batch %s were taken over by recovery; this thread stops",
            self.campaign_id,
            self.batch,
        )
        self.release(ids)
        self.flush()
        return False

    def flush(self) -> None:
        """Write every outcome known so far (one transaction)."""
        if self.unwritten:

            def work():
                self._write()
                db.session.commit()
                self._written()

            durably(work, "writing delivery outcomes")

    def _write(self) -> None:
        """The statements of one write; the open count falls by exactly the deliveries finished here."""
        pending = self.unwritten
        if not pending:
            return
        now = utcnow()
        table = DELIVERIES
        finished = 0
        for relay, sent in pending.sent.items():  # one relay, one statement (failover: two)
            mine = table.c.id.in_(sent)
            done = {
                "status": DeliveryStatus.SENT,
                "smtp_code": 250,
                "reason": "",
                "finished_at": now,
                "not_before_at": None,
                "relay": relay,
            }
            marked = _run(update(table).where(mine, self._mine()).values(**done)).rowcount
            finished += marked
            if marked < len(sent):  # recovery called them uncertain, but the relay did accept them
                _run(
                    update(table)
                    .where(
                        mine, table.c.status == DeliveryStatus.UNCERTAIN, table.c.worker_id == self.worker_id
                    )
                    .values(**done)
                )
        by_id = (table.c.id == bindparam("b_id")) & self._mine()
        if pending.finished:
            finished += _run(
                update(table)
                .where(by_id)
                .values(
                    status=bindparam("b_status"),
                    smtp_code=bindparam("b_code"),
                    reason=bindparam("b_reason"),
                    finished_at=now,
                ),
                pending.finished,
            ).rowcount
        if pending.retry:
            _run(
                update(table)
                .where(by_id)
                .values(
                    status=DeliveryStatus.QUEUED,
                    smtp_code=bindparam("b_code"),
                    reason=bindparam("b_reason"),
                    worker_id=None,
                    handed_at=None,
                    not_before_at=bindparam("b_not_before"),
                ),
                pending.retry,
            )
        if pending.released:
            _run(
                update(table)
                .where(by_id)
                .values(
                    status=DeliveryStatus.QUEUED,
                    attempts=table.c.attempts - 1,
                    worker_id=None,
                    handed_at=None,
                    not_before_at=bindparam("b_not_before"),
                    reason=bindparam("b_reason"),
                ),
                pending.released,
            )
        delivery_hooks.refused(pending.refusals)  # after the statuses: the bounce log reads them
        self.store.record_progress(self.campaign_id, finished, self.mail_flowed, now)

    def _written(self) -> None:
        pending = self.unwritten
        for d_id in [
            *(d_id for sent in pending.sent.values() for d_id in sent),
            *(item["b_id"] for item in (*pending.finished, *pending.retry, *pending.released)),
        ]:
            self.attempts_of.pop(d_id, None)
            self.handed.discard(d_id)
        self.unwritten = Unwritten()
        self.mail_flowed = False

    def close(self) -> None:
        """On any way out: write what is known and give back what was claimed but never handed over."""
        self.release(self.unsent())
        self.flush()

    def unsent(self) -> list[int]:
        """Claimed, never handed over, no outcome yet."""
        pending = self.unwritten
        known = {
            *(d_id for sent in pending.sent.values() for d_id in sent),
            *(item["b_id"] for item in (*pending.finished, *pending.retry, *pending.released)),
        }
        return [d_id for d_id in self.attempts_of if d_id not in known and d_id not in self.handed]


def earliest_retry(campaign_id: int, batch: int) -> datetime | None:
    """When the first delivery of a batch that waits for a retry is due (bounded by the batch's size)."""
    return _run(
        select(func.min(DELIVERIES.c.not_before_at)).where(
            DELIVERIES.c.campaign_id == campaign_id,
            DELIVERIES.c.batch == batch,
            DELIVERIES.c.status == DeliveryStatus.QUEUED,
        )
    ).scalar()
