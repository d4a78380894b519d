"""Starting a bulk action and running it in batches (resumable), each job audited once with its counts."""

from bisect import bisect_right
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select

from mailer import audit
from mailer.bulk.models import BulkJob
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.tags import ContactTag
from mailer.contacts.tags import TagError, clean_tag_name, ensure_tag, tag_by_name
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.segments.conditions import compile_tree
from mailer.segments.models import Segment

ACTIONS = {"tag": "Add the tag", "untag": "Remove the tag"}
BATCH = 500
MAX_PICKED = 1000  # contacts ticked one by one on the page (a page shows 50)


class BulkError(ValueError):
    """A bulk action that cannot start; the message says why, for the person."""


@dataclass
class Progress:
    status: str
    total: int
    processed: int
    changed: int
    skipped: int
    percent: int


def _members_after(job: BulkJob, size: int) -> tuple[Select, int | None]:
    """The ids of the job's selection after its cursor (a frozen id list, or the frozen segment conditions),
    and, for a frozen list, the last id this batch looked at. The list is sorted, so only the next `size` ids
    go to the database, not the whole list per batch."""
    if "ids" in job.selection:
        ids = job.selection["ids"]
        start = bisect_right(ids, job.cursor)
        following = [int(i) for i in ids[start : start + size]]
        return select(Contact.id).where(Contact.id.in_(following)), following[-1] if following else None
    return compile_tree(job.selection["tree"]).query.where(Contact.id > job.cursor), None


def _described(job: BulkJob) -> str:
    if "ids" in job.selection:
        return f"{len(job.selection['ids'])} ticked contacts"
    return f"segment “{job.selection.get('segment', '')}”"


def _check_action(action: str, argument: str) -> str:
    if action not in ACTIONS:
        raise BulkError("Choose what to do with the selected contacts.")
    try:
        name = clean_tag_name(argument)
    except TagError as error:
        raise BulkError(str(error)) from None
    existing = tag_by_name(name)
    if action == "untag" and existing is None:
        raise BulkError(f"There is no tag “{name}”.")
    return existing.name if existing else name  # an existing tag keeps its spelling


def picked_contacts(public_ids: list[str]) -> list[Contact]:
    """The contacts ticked on the page (unknown ids are left out)."""
    if len(public_ids) > MAX_PICKED:
        raise BulkError(f"Tick at most {MAX_PICKED} contacts, or choose a segment.")
    wanted = [p[:32] for p in public_ids if p]
    if not wanted:
        return []
    return list(db.session.execute(select(Contact).where(Contact.public_id.in_(wanted))).scalars())


def plan(action: str, argument: str, picked: list[Contact], segment: Segment | None) -> tuple[str, int]:
    """Check an action before it starts: the clean tag name and how many contacts it covers."""
    name = _check_action(action, argument)
    if segment is not None:
        query = compile_tree(segment.tree).query
        total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    else:
        total = len(picked)
    if not total:
        raise BulkError("Tick the contacts to act on, or choose a segment with members.")
    return name, int(total)


def start_job(
    action: str, argument: str, picked: list[Contact], segment: Segment | None, actor: Any
) -> BulkJob:
    """Freeze the selection, count it and queue the worker. The caller commits."""
    name, total = plan(action, argument, picked, segment)
    if segment is not None:
        selection: dict = {"tree": segment.tree, "segment": segment.name}
    else:
        selection = {"ids": sorted(c.id for c in picked)}
    job = BulkJob(
        action=action,
        argument=name,
        selection=selection,
        total=total,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(job)
    db.session.flush()
    enqueue_after_commit(db.session(), "run_bulk_job", job.id)
    return job


def _apply(job: BulkJob, ids: list[int]) -> int:
    """Tag or untag these contacts; how many changed."""
    if job.action == "tag":
        tag = ensure_tag(job.argument)
        db.session.flush()
        have = set(
            db.session.execute(
                select(ContactTag.contact_id).where(
                    ContactTag.tag_id == tag.id, ContactTag.contact_id.in_(ids)
                )
            ).scalars()
        )
        new = [i for i in ids if i not in have]
        db.session.add_all(ContactTag(contact_id=i, tag_id=tag.id) for i in new)
        return len(new)
    found = tag_by_name(job.argument)
    if found is None:
        return 0
    result = db.session.execute(
        delete(ContactTag).where(ContactTag.tag_id == found.id, ContactTag.contact_id.in_(ids))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def run_batch(job_id: int, size: int = BATCH) -> bool:
    """Handle the next batch of one job, committed together with the job's progress; False when finished."""
    job = db.session.execute(select(BulkJob).where(BulkJob.id == job_id).with_for_update()).scalar_one()
    if job.status == "done":
        db.session.rollback()
        return False
    members, looked_at = _members_after(job, size)
    rows = db.session.execute(members.add_columns(Contact.status).order_by(Contact.id).limit(size)).all()
    if not rows and looked_at is not None:  # every ticked contact of this stretch is gone: move past it
        job.cursor = looked_at
        db.session.commit()
        return True
    if not rows:
        job.status, job.finished_at = "done", utcnow()
        audit.record(
            f"contacts.bulk_{job.action}",
            "bulk_job",
            job.public_id,
            {
                "tag": job.argument,
                "selection": _described(job),
                "processed": job.done,
                "changed": job.changed,
                "skipped": job.skipped,
            },
            actor=job.created_by,
        )
        db.session.commit()
        return False
    usable = [cid for cid, status in rows if status == ContactStatus.ACTIVE]
    job.status = "running"
    job.changed += _apply(job, usable) if usable else 0
    job.skipped += len(rows) - len(usable)
    job.done += len(rows)
    job.cursor = rows[-1][0]
    db.session.commit()
    return True


def run_job(job_id: int) -> None:
    """Run a job to the end, batch by batch (a restart continues from the last committed batch)."""
    while run_batch(job_id):
        pass


def job_by_public_id(public_id: str) -> BulkJob | None:
    return db.session.execute(select(BulkJob).where(BulkJob.public_id == public_id)).scalar_one_or_none()


def progress(job: BulkJob) -> dict:
    total = max(job.total, job.done)
    percent = 100 if job.status == "done" else (job.done * 100 // total if total else 0)
    return asdict(Progress(job.status, total, job.done, job.changed, job.skipped, percent))
