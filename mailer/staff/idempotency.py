"""Idempotency-Keys of API requests (Stripe's and the IETF draft's rule): the first request with a key runs,
a repeat of the same request answers what the first answered, a different request with a used key is refused.

A key is claimed (a row committed before the request runs), then either finished with the answer or
released when the request failed (nothing was made, so a retry may run it again). The unique index on
(API key, key) decides between concurrent first tries: PostgreSQL makes the second insert wait for the
first's commit, then it fails and reads the claim. Keys expire after API_IDEMPOTENCY_HOURS (retention).
"""

import enum
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.staff.models.idempotency import IdempotentRequest

MAX_KEY_LENGTH = 255


class ClaimOutcome(enum.StrEnum):
    """What a request with an Idempotency-Key does: run, replay the first answer, or be refused."""

    RUN = "run"  # the first try (or a retry after the first failed): run it
    REPLAY = "replay"  # the same request was answered already: answer that again
    IN_PROGRESS = "in_progress"  # the first try is still running: 409, try again shortly
    REUSED = "reused"  # the key was used for a different request: 422


@dataclass
class Claim:
    outcome: ClaimOutcome
    request: IdempotentRequest | None = None


def valid_key(key: str) -> bool:
    """1–255 printable characters (the same rule as POST /tx's keys)."""
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()


def _existing(api_key_id: int, key: str) -> IdempotentRequest | None:
    query = select(IdempotentRequest).where(
        IdempotentRequest.api_key_id == api_key_id, IdempotentRequest.key == key
    )
    return db.session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def _expired_before():
    return utcnow() - timedelta(hours=current_app.config["API_IDEMPOTENCY_HOURS"])


def _outcome_of(existing: IdempotentRequest, fingerprint: str) -> Claim:
    if existing.request_hash != fingerprint:
        return Claim(ClaimOutcome.REUSED, existing)
    if existing.status is not None:
        return Claim(ClaimOutcome.REPLAY, existing)
    return Claim(ClaimOutcome.IN_PROGRESS, existing)


def _take_over(existing: IdempotentRequest, fingerprint: str, endpoint: str) -> bool:
    """An expired key, or a try abandoned mid-way (its process died, so it never finished nor released
    the key): start afresh, unless a concurrent request took it over first."""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["API_IDEMPOTENCY_STALE_SECONDS"])
    expired = existing.created_at < _expired_before()
    if not expired and (existing.status is not None or existing.claimed_at >= stale):
        return False
    taken = db.session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.id == existing.id, IdempotentRequest.claimed_at == existing.claimed_at)
        .values(
            request_hash=fingerprint,
            endpoint=endpoint,
            created_at=now,
            claimed_at=now,
            status=None,
            content_type="",
            body=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def claim(api_key_id: int, key: str, fingerprint: str, endpoint: str) -> Claim:
    """Claim `key` for this request, or say why it is not run. Commits."""
    existing = _existing(api_key_id, key)
    if existing is None:
        record = IdempotentRequest(
            api_key_id=api_key_id, key=key, request_hash=fingerprint, endpoint=endpoint
        )
        try:
            with db.session.begin_nested():
                db.session.add(record)
            db.session.commit()
            return Claim(ClaimOutcome.RUN, record)
        except IntegrityError:
            db.session.rollback()  # a concurrent first try committed the key (PostgreSQL waited for it)
            existing = _existing(api_key_id, key)
            if existing is None:
                raise
    if _take_over(existing, fingerprint, endpoint):
        return Claim(ClaimOutcome.RUN, _existing(api_key_id, key))
    return _outcome_of(existing, fingerprint)


def finish(record_id: int, status: int, content_type: str, body: str) -> None:
    """Keep the answer a repeat will get. Commits (after whatever the request itself made)."""
    db.session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.id == record_id)
        .values(status=status, content_type=content_type[:100], body=body)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def release(record_id: int) -> None:
    """The request failed and made nothing: forget the key, so a retry runs again. Commits."""
    db.session.rollback()  # what the failed request left unsaved is not kept
    db.session.execute(
        delete(IdempotentRequest)
        .where(IdempotentRequest.id == record_id)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def purge_expired(dry_run: bool = False) -> int:
    """Retention: keys (and their stored answers) older than API_IDEMPOTENCY_HOURS. Returns how many."""
    old = IdempotentRequest.created_at < _expired_before()
    count = db.session.execute(select(func.count()).select_from(IdempotentRequest).where(old)).scalar_one()
    if count and not dry_run:
        db.session.execute(delete(IdempotentRequest).where(old))
    return int(count)


def forget_answers_mentioning(*needles: str) -> int:
    """Erasure: stored answers that name the person (their public id or address) go. Returns how many."""
    wanted = [IdempotentRequest.body.contains(needle, autoescape=True) for needle in needles if needle]
    if not wanted:
        return 0
    removed = db.session.execute(delete(IdempotentRequest).where(or_(*wanted)))
    return int(removed.rowcount)  # type: ignore[attr-defined]
