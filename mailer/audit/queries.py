"""Reading the audit log: the admin's filtered pages, the auditor's CSV and one record's history."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select

from mailer.audit.models import AuditEvent, action_name
from mailer.core.extensions import db
from mailer.core.spreadsheet import csv_text


@dataclass
class AuditFilter:
    """What the admin's audit page filters by."""

    action: str = ""
    actor_id: int | None = None
    target_id: str = ""
    since: datetime | None = None
    until: datetime | None = None


def _query(flt: AuditFilter) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if flt.action:
        query = query.where(AuditEvent.action.startswith(flt.action))
    if flt.actor_id:
        query = query.where(AuditEvent.actor_id == flt.actor_id)
    if flt.target_id:
        query = query.where(AuditEvent.target_id == flt.target_id.strip()[:64])
    if flt.since:
        query = query.where(AuditEvent.created_at >= flt.since)
    if flt.until:
        query = query.where(AuditEvent.created_at < flt.until)
    return query


def search(flt: AuditFilter, page: int = 1, per_page: int = 50) -> tuple[list[AuditEvent], int]:
    """One page of matching audit rows, newest first, and the total."""
    query = _query(flt)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = (
        db.session.execute(
            query.order_by(AuditEvent.id.desc()).limit(per_page).offset((max(1, page) - 1) * per_page)
        )
        .scalars()
        .all()
    )
    return list(rows), total


def export_csv(flt: AuditFilter) -> str:
    """Every matching audit row as CSV (oldest first), for an auditor: the stable action code, and at the end
    (so the earlier columns keep their places) the action's words in the exporter's language."""
    query = _query(flt).order_by(AuditEvent.id).execution_options(yield_per=500)
    rows = (
        [
            ev.id,
            ev.created_at.isoformat(timespec="seconds"),
            ev.actor.email if ev.actor else "system",
            ev.action,
            ev.target_type,
            ev.target_id,
            "; ".join(f"{k}={v}" for k, v in (ev.details or {}).items()),
            ev.ip or "",
            action_name(ev.action),
        ]
        for ev in db.session.execute(query).scalars()
    )
    return csv_text(
        [
            "id",
            "created_at_utc",
            "actor",
            "action",
            "target_type",
            "target_id",
            "details",
            "ip",
            "action_label",
        ],
        rows,
    )


def events_for(target_type: str, target_id: str) -> list[AuditEvent]:
    """Audit rows about one record, oldest first."""
    query = select(AuditEvent).where(AuditEvent.target_type == target_type, AuditEvent.target_id == target_id)
    return list(db.session.execute(query.order_by(AuditEvent.id)).scalars())
