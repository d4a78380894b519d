"""Unsubscribing (REQUIREMENTS A3-A7, F3, H1): from one list, or from everything (which also suppresses).

Each withdrawal is one ledger event. Conditional UPDATEs make repeated or concurrent requests idempotent:
only the request that actually changes a subscription or a consent writes an event.
"""

import functools
import json
import os
import threading
from dataclasses import dataclass, field

import psycopg
from flask import current_app
from sqlalchemy import bindparam, event, select, tuple_, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload

from mailer.consent.ledger import EventDraft, RequestContext, append_events, database_event, record_consent
from mailer.consent.models import ConsentState, Notice, Purpose
from mailer.consent.notices import PRIVACY_NOTICE_KEY, latest_notice
from mailer.contacts.models.contact import Contact
from mailer.contacts.suppression import is_suppressed, suppress
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.process_local import process_local
from mailer.core.security import TokenExpired, TokenInvalid, make_token, read_token
from mailer.subscriptions.models.lists import MailingList, Subscription

ACTIVE_SUBSCRIPTION = ("pending", "confirmed")
WITHDRAWABLE = ("granted", "pending")


def _withdraws(status: str | None, ended: bool) -> bool:
    """Whether a consent in `status` gets a "withdrawn" event: granted or pending, or any consent not already
    withdrawn or objected to when the subscription was just ended (one rule for the request and the group)."""
    return status in WITHDRAWABLE or (ended and status not in ("withdrawn", "objected"))


@dataclass
class UnsubscribeTarget:
    """Who a genuine unsubscribe token names, and what from (None: everything)."""

    contact: Contact
    mailing_list: MailingList | None
    campaign_public_id: str | None


@dataclass
class UnsubscribeOutcome:
    """What a person sees: subscribed (GET, nothing changed), done, already, or invalid."""

    status: str
    list_name: str | None = None
    everything: bool = False
    preferences_path: str = ""


def _is_opt_id(value) -> bool:
    return value is None or (isinstance(value, str) and 0 < len(value) <= 32)


def read_payload(token: str) -> tuple[str, str | None, str | None] | None:
    """(contact, list or None, campaign or None) public ids of a genuine token; an old token still counts
    (an opt-out is always honoured)."""
    try:
        payload = read_token("unsubscribe", token, max_age=current_app.config["RECIPIENT_TOKEN_MAX_AGE"])
    except TokenExpired as exc:
        payload = exc.payload
    except TokenInvalid:
        return None
    if not (
        isinstance(payload, list)
        and len(payload) == 3
        and isinstance(payload[0], str)
        and all(_is_opt_id(v) for v in payload)
    ):
        return None
    return payload[0], payload[1], payload[2]


def read_target(token: str) -> UnsubscribeTarget | None:
    """Resolve a token to its contact and list (None: the list is gone, or the token names none)."""
    payload = read_payload(token)
    if payload is None:
        return None
    # One query for the contact and the list (with its purpose); the list is outer-joined on its public id.
    row = db.session.execute(
        select(Contact, MailingList)
        .outerjoin(MailingList, MailingList.public_id == (payload[1] or ""))
        .options(joinedload(MailingList.purpose))
        .where(Contact.public_id == payload[0])
    ).first()
    if row is None or row.Contact.status == "erased":
        return None
    # A list that no longer exists: unsubscribing from everything is the only safe reading of the request.
    return UnsubscribeTarget(row.Contact, row.MailingList, payload[2])


def preferences_path(contact: Contact) -> str:
    """Relative URL of the contact's preference centre."""
    return preferences_path_for(contact.public_id)


def preferences_path_for(contact_public_id: str) -> str:
    """Relative URL of a contact's preference centre, by public id."""
    return f"/p/{make_token('preferences', contact_public_id)}"


def _outcome(target: UnsubscribeTarget, status: str, path: str | None = None) -> UnsubscribeOutcome:
    return UnsubscribeOutcome(
        status,
        target.mailing_list.name if target.mailing_list else None,
        target.mailing_list is None,
        path or preferences_path(target.contact),
    )


def describe(token: str) -> UnsubscribeOutcome:
    """What the link would do, changing nothing (mail software prefetches GET: A5)."""
    target = read_target(token)
    if target is None:
        return UnsubscribeOutcome("invalid")
    if target.mailing_list is not None:
        sub = db.session.execute(
            select(Subscription.status).where(
                Subscription.contact_id == target.contact.id, Subscription.list_id == target.mailing_list.id
            )
        ).scalar()
        return _outcome(target, "subscribed" if sub in ACTIVE_SUBSCRIPTION else "already")
    suppressed = bool(target.contact.email_hash) and is_suppressed(target.contact.email_hash)
    return _outcome(target, "already" if suppressed else "subscribed")


def unsubscribe(token: str, ctx: RequestContext) -> UnsubscribeOutcome:
    """Act on an unsubscribe link in this one request (A3); idempotent (A6); durable before it returns.

    From one list (every link in a campaign message): a group commit with the other unsubscribes of this
    process (see ListUnsubscribes). From everything, or from a list that no longer exists: in this request.
    """
    payload = read_payload(token)
    if payload is None:
        return UnsubscribeOutcome("invalid")
    contact_public_id, list_public_id, campaign_public_id = payload
    if list_public_id is not None:
        job = list_unsubscribes().submit(ListJob(contact_public_id, list_public_id, campaign_public_id, ctx))
        if job.status == "invalid":
            return UnsubscribeOutcome("invalid")
        if job.status != "recheck":
            return UnsubscribeOutcome(
                job.status, job.list_name, False, preferences_path_for(contact_public_id)
            )
    for attempt in range(3):
        try:
            outcome = apply_unsubscribe(token, ctx)
            db.session.commit()
        except (
            OperationalError
        ):  # a concurrent request won a lock (SQLite snapshot, PostgreSQL deadlock): retry
            db.session.rollback()
            if attempt == 2:
                raise
            continue
        return outcome
    raise AssertionError("unreachable")


# --- one-list unsubscribes, committed in groups
# ---------------------------------------------------------------

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
    notice = (
        select(notices.c.id)
        .where(notices.c.key == PRIVACY_NOTICE_KEY)
        .order_by(notices.c.version.desc())
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
            subs.c.status != "unsubscribed",
        )
        .values(status="unsubscribed", unsubscribed_at=bindparam("at"))
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
        elif row.status == "erased":
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
        claimed = row.purpose_id is not None and _withdraws(status, key in ended)
        if claimed:
            drafts.append(
                EventDraft(
                    row.id, row.email, row.purpose_id, "withdrawn", job.ctx, row.notice_id, _details(job)
                )
            )
        job.status = "done" if claimed or key in ended else "already"
    return drafts


def apply_unsubscribe(token: str, ctx: RequestContext) -> UnsubscribeOutcome:
    """The changes an unsubscribe link asks for, in the current transaction; the caller commits."""
    target = read_target(token)
    if target is None:
        return UnsubscribeOutcome("invalid")
    details = {
        "list": target.mailing_list.public_id if target.mailing_list else None,
        "campaign": target.campaign_public_id,
    }
    done = _outcome(target, "done")  # before the commit expires the loaded rows
    already = _outcome(target, "already", done.preferences_path)
    notice = latest_notice(PRIVACY_NOTICE_KEY)  # the notice in force, as the one-list group commit records it
    if target.mailing_list is not None:
        changed = withdraw_list(target.contact, target.mailing_list, ctx, details, notice=notice)
    else:
        changed = unsubscribe_everything(target.contact, ctx, details, notice=notice)
    return done if changed else already


def _end_subscription(contact_id: int, list_id: int) -> bool:
    """Mark a subscription unsubscribed unless it already is; True when this call changed it."""
    result = db.session.execute(
        update(Subscription)
        .where(
            Subscription.contact_id == contact_id,
            Subscription.list_id == list_id,
            Subscription.status != "unsubscribed",
        )
        .values(status="unsubscribed", unsubscribed_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)


def withdraw_purpose(
    contact: Contact,
    purpose: Purpose,
    ctx: RequestContext,
    details: dict,
    force: bool = False,
    notice: Notice | None = None,
) -> bool:
    """One "withdrawn" ledger event when consent is granted or pending (or a subscription was just ended).

    The state row is read FOR UPDATE, so of two concurrent requests only the first writes an event (SQLite
    serialises on the subscription UPDATE that precedes this); the ledger then updates the same loaded row.
    """
    state = db.session.execute(
        select(ConsentState)
        .where(ConsentState.contact_id == contact.id, ConsentState.purpose_id == purpose.id)
        .with_for_update()
    ).scalar_one_or_none()
    status = state.status if state is not None else None
    claimed = _withdraws(status, force)
    if claimed:
        record_consent(contact, purpose, "withdrawn", ctx, notice=notice, details=details)
    return claimed


def _suppress_once(address_hash: str) -> bool:
    """Add the suppression unless it exists; a concurrent request adding it first is not an error."""
    if is_suppressed(address_hash):
        return False
    try:
        with db.session.begin_nested():
            suppress(address_hash, "unsubscribed")
    except IntegrityError:
        return False
    return True


def withdraw_list(
    contact: Contact,
    mailing_list: MailingList,
    ctx: RequestContext,
    details: dict,
    notice: Notice | None = None,
) -> bool:
    """Unsubscribe from one list and withdraw its consent (A7); the caller commits. True when anything
    changed."""
    ended = _end_subscription(contact.id, mailing_list.id)
    purpose = mailing_list.purpose
    withdrawn = purpose is not None and withdraw_purpose(
        contact, purpose, ctx, details, force=ended, notice=notice
    )
    return ended or withdrawn


def unsubscribe_everything(
    contact: Contact, ctx: RequestContext, details: dict, notice: Notice | None = None
) -> bool:
    """End every subscription, withdraw every consent and suppress the address; the caller commits.

    The suppression means the address comes back only through a fresh double opt-in (REQUIREMENTS J4).
    """
    details = {**details, "scope": "everything"}
    list_ids = (
        db.session.execute(
            select(Subscription.list_id)
            .where(Subscription.contact_id == contact.id, Subscription.status != "unsubscribed")
            .order_by(Subscription.list_id)
        )
        .scalars()
        .all()
    )  # one lock order for every request: no deadlock between retries
    ended_lists = {list_id for list_id in list_ids if _end_subscription(contact.id, list_id)}
    changed = _suppress_once(contact.email_hash) if contact.email_hash else False
    purposes = (
        db.session.execute(
            select(Purpose)
            .join(ConsentState, ConsentState.purpose_id == Purpose.id)
            .where(ConsentState.contact_id == contact.id, ConsentState.status.in_(WITHDRAWABLE))
            .order_by(Purpose.id)
        )
        .scalars()
        .all()
    )
    for purpose in purposes:
        changed |= withdraw_purpose(contact, purpose, ctx, details, notice=notice)
    for list_id in ended_lists:
        purpose = db.session.execute(select(Purpose).where(Purpose.list_id == list_id)).scalar_one_or_none()
        if purpose is not None and purpose not in purposes:
            withdraw_purpose(contact, purpose, ctx, details, force=True, notice=notice)
    return changed or bool(ended_lists)
