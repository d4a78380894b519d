"""One-list unsubscribes committed in groups: many one-click requests of a process share one transaction,
one ledger head lock and one commit (on PostgreSQL one statement, the leave_lists function in sql/)."""

import functools
import json
import os
import threading
from dataclasses import dataclass, field

import psycopg
from flask import current_app
from sqlalchemy import bindparam, event, func, or_, select, tuple_, update
from sqlalchemy.exc import OperationalError

from mailer.consent.ledger import EventDraft, RequestContext, append_events, database_event
from mailer.consent.models import ConsentState, Notice, Purpose
from mailer.consent.notices import PRIVACY_NOTICE_KEY
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core import metrics
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.process_local import process_local
from mailer.subscriptions.models.lists import MailingList, Subscription, SubscriptionStatus
from mailer.subscriptions.withdrawal import withdraws

MAX_GROUP = 64


@dataclass
class ListJob:
    """One request to leave one list, waiting for its group's commit; status: done, already, invalid or
    recheck."""

    contact_public_id: str
    list_public_id: str
    campaign_public_id: str | None
    ctx: RequestContext
    status: str | None = None
    list_name: str | None = None
    error: BaseException | None = None
    lead: bool = False
    ready: threading.Event = field(default_factory=threading.Event)


class ListUnsubscribes:
    """Group commit of one-list unsubscribes within a process.

    A request queues its job; if no request is writing, it writes itself: every queued job in one transaction
    that takes the ledger head lock once and chains all their events, one commit (on PostgreSQL one statement,
    leave_lists_pg, so the head lock is held only inside the database). Requests arriving meanwhile
    wait, then the first of them writes the next group (each writer writes one group, so nobody waits for
    more than the group in flight and its own). Every request returns only after its own group committed.
    """

    def __init__(self, app):
        self.app = app
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._queue: list[ListJob] = []
        self._writing = False
        self._raw = None  # this process's PostgreSQL connection for groups (autocommit), kept between groups
        with app.app_context():
            self._on_postgresql = db.engine.dialect.name == "postgresql"
            event.listen(db.engine, "engine_disposed", self._release)

    def submit(self, job: ListJob) -> ListJob:
        with self._lock:
            self._queue.append(job)
            lead = not self._writing
            self._writing = True
        if not lead:
            job.ready.wait()
            if not job.lead:
                return self._result(job)
        with self._lock:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        try:
            self._write(group)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True  # the next writer (not in this group) keeps the connection
                    self._queue[0].ready.set()
                else:
                    self._writing = False
            for other in group:
                other.ready.set()
        return self._result(job)

    @staticmethod
    def _result(job: ListJob) -> ListJob:
        if job.error is not None:
            raise job.error
        return job

    def _write(self, group: list[ListJob]) -> None:
        """Commit the group; should it fail, each job alone, so one bad job fails only its own request."""
        try:
            self._commit(group)
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            for job in group:
                try:
                    self._commit([job])
                except Exception as single:
                    job.error = single

    def _commit(self, group: list[ListJob]) -> None:
        for attempt in range(3):
            try:
                if self._on_postgresql:
                    self._commit_postgresql(group)
                else:
                    with db.engine.begin() as connection:
                        leave_lists(connection, group)
                return
            except (OperationalError, psycopg.OperationalError):  # a lock lost to a concurrent writer (SQLite
                if attempt == 2:  # snapshot, PostgreSQL deadlock): again
                    raise

    def _commit_postgresql(self, group: list[ListJob]) -> None:
        """The group on this process's own PostgreSQL connection: one statement in autocommit (one round
        trip)."""
        if self._raw is None:
            self._raw = db.engine.raw_connection()
            self._raw.driver_connection.autocommit = True  # reset before the connection goes back (_release)
        try:
            leave_lists_pg(self._raw.driver_connection, group)
        except Exception:
            self._discard_failed()
            raise

    def _release(self, _engine=None) -> None:
        """Give the kept connection back when the engine is disposed (not while a group is being written)."""
        with self._lock:
            if self._raw is not None and not self._writing:
                driver = self._raw.driver_connection
                if driver.closed or driver.broken:
                    self._raw.invalidate()
                else:
                    driver.autocommit = False  # as the pool handed it out
                self._raw.close()
                self._raw = None

    def _discard_failed(self) -> None:
        """After a failure (the statement was rolled back), a broken connection is replaced by the next
        group."""
        driver = self._raw.driver_connection
        if driver.closed or driver.broken:
            self._raw.invalidate()
            self._raw = None


def list_unsubscribes() -> ListUnsubscribes:
    """This process's group committer for the current app (a forked worker gets its own)."""
    return process_local(current_app, "mailer.list_unsubscribes", ListUnsubscribes)


@functools.cache
def _group_statements() -> dict:
    """The statements of leave_lists, built once (building them costs more than running them)."""
    contacts, lists, purposes = Contact.__table__, MailingList.__table__, Purpose.__table__
    subs, states, notices = Subscription.__table__, ConsentState.__table__, Notice.__table__
    # The privacy notice in force in each contact's language, else English's (privacy_notice_in_force).
    notice = (
        select(notices.c.id)
        .where(
            or_(
                notices.c.key == PRIVACY_NOTICE_KEY + ":" + func.coalesce(contacts.c.language, ""),
                notices.c.key == PRIVACY_NOTICE_KEY,
            )
        )
        .order_by(notices.c.key == PRIVACY_NOTICE_KEY, notices.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )
    return {
        "resolve": select(
            contacts.c.id,
            contacts.c.public_id,
            contacts.c.email,
            contacts.c.status,
            lists.c.id.label("list_id"),
            lists.c.public_id.label("list_public_id"),
            lists.c.name,
            purposes.c.id.label("purpose_id"),
            notice.label("notice_id"),
        )
        .select_from(contacts)
        .join(lists, lists.c.public_id.in_(bindparam("lists", expanding=True)))
        .outerjoin(purposes, purposes.c.list_id == lists.c.id)
        .where(contacts.c.public_id.in_(bindparam("contacts", expanding=True))),
        "end": update(subs)
        .where(
            tuple_(subs.c.contact_id, subs.c.list_id).in_(bindparam("pairs", expanding=True)),
            subs.c.status != SubscriptionStatus.UNSUBSCRIBED,
        )
        .values(status=SubscriptionStatus.UNSUBSCRIBED, unsubscribed_at=bindparam("at"))
        .returning(subs.c.contact_id, subs.c.list_id),
        "states": select(states.c.contact_id, states.c.purpose_id, states.c.status)
        .where(tuple_(states.c.contact_id, states.c.purpose_id).in_(bindparam("pairs", expanding=True)))
        .with_for_update(),
    }


def leave_lists(connection, jobs: list[ListJob]) -> None:
    """End each job's subscription and withdraw its list's consent, in the connection's transaction (Core).

    For the whole group: contacts and lists found by public id in one query (with the current privacy notice:
    the notice in force when the consent is withdrawn), one conditional UPDATE of the subscriptions, the
    consent states read FOR UPDATE, one append to the ledger. As in withdraw_list, an event is written only
    when consent was granted or pending or the subscription was just ended, so a repeated request changes
    nothing. A job whose contact or list is not found is left to the request ("recheck").
    """
    statements = _group_statements()
    firsts = _match(
        jobs,
        connection.execute(
            statements["resolve"],
            {
                "contacts": sorted({job.contact_public_id for job in jobs}),
                "lists": sorted({job.list_public_id for job in jobs}),
            },
        ),
    )
    if not firsts:
        return
    pairs = sorted(firsts)
    ended = set(connection.execute(statements["end"], {"pairs": pairs, "at": utcnow()}).all())
    consent_pairs = _consent_pairs(firsts)
    states = connection.execute(statements["states"], {"pairs": consent_pairs}).all() if consent_pairs else []
    append_events(connection, _withdrawals(firsts, ended, states))


_PG_LEAVE = "SELECT job, outcome, list_name FROM leave_lists(%s::json, %s, %s)"


def leave_lists_pg(driver, jobs: list[ListJob]) -> None:
    """leave_lists on PostgreSQL: one statement (migration 0011's leave_lists function) on a psycopg
    connection in autocommit mode, so the group is applied atomically and committed in one round trip.

    The database applies the same rule as leave_lists and withdraw_list, and appends the events chained under
    the ledger head lock, which it holds only while it appends; the application sends each event's own
    fields and the text of its hash around what only the database knows (ledger.database_event).
    """
    firsts: dict[tuple[str, str], ListJob] = {}
    for job in sorted(jobs, key=lambda job: (job.contact_public_id, job.list_public_id)):  # one lock order
        job.status, job.error = None, None
        firsts.setdefault((job.contact_public_id, job.list_public_id), job)
    acting = list(firsts.values())
    payload = [
        {
            "contact_public_id": job.contact_public_id,
            "list_public_id": job.list_public_id,
            **database_event(EventDraft(0, None, None, "withdrawn", job.ctx, None, _details(job))),
        }
        for job in acting
    ]
    answers = driver.execute(_PG_LEAVE, (json.dumps(payload), PRIVACY_NOTICE_KEY, utcnow())).fetchall()
    for number, outcome, list_name in answers:
        job = acting[number - 1]
        job.status, job.list_name = outcome, list_name
    metrics.ledger_appended("withdrawn" for _, outcome, _ in answers if outcome == "done")
    for job in jobs:
        if job.status is None:  # the same link twice in one group: the first one acts
            first = firsts[(job.contact_public_id, job.list_public_id)]
            job.status = "already" if first.status == "done" else first.status
            job.list_name = first.list_name


def _details(job: ListJob) -> dict:
    return {"list": job.list_public_id, "campaign": job.campaign_public_id}


def _match(jobs: list[ListJob], found) -> dict[tuple[int, int], tuple[ListJob, object]]:
    """(contact id, list id) -> (the first job naming it, its row); every other job gets its status here."""
    rows = {(row.public_id, row.list_public_id): row for row in found}
    firsts = {}
    for job in jobs:
        job.status, job.error = None, None
        row = rows.get((job.contact_public_id, job.list_public_id))
        if row is None:
            job.status = "recheck"  # unknown contact, or a list that is gone: the request's own path decides
        elif row.status == ContactStatus.ERASED:
            job.status = "invalid"
        else:
            job.list_name = row.name
            key = (row.id, row.list_id)
            if key in firsts:
                job.status = "already"  # the same link twice in one group: the first one acts
            else:
                firsts[key] = (job, row)
    return firsts


def _consent_pairs(firsts: dict) -> list[tuple[int, int]]:
    return sorted({(row.id, row.purpose_id) for _, row in firsts.values() if row.purpose_id is not None})


def _withdrawals(firsts: dict, ended: set, states) -> list[EventDraft]:
    """The ledger events of a group, in (contact, list) order; sets each acting job's status."""
    statuses = {(row.contact_id, row.purpose_id): row.status for row in states}
    drafts = []
    for key in sorted(firsts):
        job, row = firsts[key]
        status = statuses.get((row.id, row.purpose_id))
        claimed = row.purpose_id is not None and withdraws(status, key in ended)
        if claimed:
            drafts.append(
                EventDraft(
                    row.id, row.email, row.purpose_id, "withdrawn", job.ctx, row.notice_id, _details(job)
                )
            )
        job.status = "done" if claimed or key in ended else "already"
    return drafts
