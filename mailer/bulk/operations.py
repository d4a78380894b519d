"""Starting a bulk action and running it in batches (resumable), each job audited once with its counts.

Each contact is changed through the same rule its one-by-one counterpart uses: tags as on the contact page,
list additions through subscribe() on a stated consent basis or a double opt-in (as adding a contact by hand),
list removals through withdraw_list() (the "withdrawn" ledger events of an unsubscribe), re-permission
requests through subscriptions' reconfirmation (an email each, paced; the unanswered leave the list at the
deadline), erasures through privacy's staff erasure (connected in hooks.py).
"""

from bisect import bisect_right
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from flask_babel import gettext, lazy_gettext
from sqlalchemy import Select, and_, delete, func, insert, literal, select

from mailer import audit
from mailer.bulk import hooks
from mailer.bulk.models import BulkJob, BulkJobMember
from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.models.tags import ContactTag
from mailer.contacts.tags import TagError, clean_tag_name, ensure_tag, tag_by_name
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.text import has_controls
from mailer.segments.conditions import compile_tree
from mailer.segments.models import Segment
from mailer.subscriptions import lists as list_service
from mailer.subscriptions import reconfirmation
from mailer.subscriptions.lists import lists_by_public_id
from mailer.subscriptions.manual import ContactRefused, checked_basis
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.operations import Basis, Door, Outcome, request_confirmation_email, subscribe
from mailer.subscriptions.withdrawal import withdraw_list

# What editors can do with a selection; erasure is for owners and privacy officers (ERASE).
ACTIONS = {
    "tag": lazy_gettext("Add the tag"),
    "untag": lazy_gettext("Remove the tag"),
    "list_add": lazy_gettext("Add to the list"),
    "list_remove": lazy_gettext("Remove from the list"),
    "list_reconfirm": lazy_gettext("Ask to re-confirm the list"),
}
ERASE = "erase"
# Deleting a list (its page, or the API): not a choice on the contacts page; walks the list's subscriptions.
LIST_DELETE = "list_delete"
LABELS = {**ACTIONS, ERASE: lazy_gettext("Erase"), LIST_DELETE: lazy_gettext("Delete the list")}
LIST_ACTIONS = ("list_add", "list_remove", "list_reconfirm")
BASES = {
    Basis.PRIOR_CONSENT.value: lazy_gettext("They consented elsewhere (say where and how)"),
    Basis.DOUBLE_OPT_IN.value: lazy_gettext("Send each a double opt-in email to confirm"),
}
BATCH = 500
ERASE_BATCH = 50  # an erasure touches every domain's tables: smaller transactions
MAX_PICKED = 1000  # contacts ticked one by one on the page (a page shows 50)
MAX_REASON = 200
# Contacts each action leaves alone: restricted (Art. 18) and erased ones, except that a restricted contact
# can still be erased.
ACTED_ON = {ERASE: (ContactStatus.ACTIVE, ContactStatus.RESTRICTED)}
ACTIVE_ONLY = (ContactStatus.ACTIVE,)


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


@dataclass(frozen=True)
class Options:
    """What an action needs besides its tag or list: the consent basis of a list addition (and where and how
    consent was obtained), the reason for an erasure and the words typed to confirm it."""

    basis: str = ""
    statement: str = ""
    reason: str = ""
    confirmation: str = ""
    days: str = ""  # a re-permission request's deadline, in days from the start


@dataclass(frozen=True)
class Matching:
    """Every contact a search on the contacts page matches (all pages), and how to say what it was."""

    query: Select  # of contact ids
    described: str


@dataclass(frozen=True)
class Planned:
    """A checked action: the tag's name or the list's public id, what to show for it, how many contacts, and
    the options to keep."""

    argument: str
    name: str
    total: int
    options: dict


def _members_after(job: BulkJob, size: int) -> tuple[Select, int | None]:
    """The ids of the job's selection after its cursor (a frozen id list, the frozen members, or the frozen
    segment conditions), and, for a frozen list, the last id this batch looked at. The list is sorted, so only
    the next `size` ids go to the database, not the whole list per batch."""
    if "ids" in job.selection:
        ids = job.selection["ids"]
        start = bisect_right(ids, job.cursor)
        following = [int(i) for i in ids[start : start + size]]
        return select(Contact.id).where(Contact.id.in_(following)), following[-1] if following else None
    if "members" in job.selection:
        member = and_(BulkJobMember.contact_id == Contact.id, BulkJobMember.job_id == job.id)
        return select(Contact.id).join(BulkJobMember, member).where(Contact.id > job.cursor), None
    return compile_tree(job.selection["tree"]).query.where(Contact.id > job.cursor), None


def described(job: BulkJob) -> str:
    """The job's selection in words."""
    if job.action == LIST_DELETE:
        return f"the list's {job.total} open subscription{'' if job.total == 1 else 's'}"
    if "ids" in job.selection:
        count = len(job.selection["ids"])
        return f"{count} ticked contact{'' if count == 1 else 's'}"
    if "members" in job.selection:
        return str(job.selection["members"])
    return f"segment “{job.selection.get('segment', '')}”"


def _tag_argument(action: str, argument: str) -> str:
    try:
        name = clean_tag_name(argument)
    except TagError as error:
        raise BulkError(str(error)) from None
    existing = tag_by_name(name)
    if action == "untag" and existing is None:
        raise BulkError(f"There is no tag “{name}”.")
    return existing.name if existing else name  # an existing tag keeps its spelling


def _list_of(public_id: str) -> MailingList | None:
    return lists_by_public_id([public_id[:32]]).get(public_id[:32]) if public_id else None


def _list_argument(action: str, argument: str, options: Options, confirm: bool) -> tuple[MailingList, dict]:
    mailing_list = _list_of(argument)
    if mailing_list is None:
        raise BulkError("Choose a list.")
    if action == "list_remove":
        return mailing_list, {}
    if mailing_list.archived_at is not None:
        doing = "asked about" if action == "list_reconfirm" else "added to"
        raise BulkError(f"The list “{mailing_list.name}” is archived: nobody can be {doing} it.")
    if not confirm:
        return mailing_list, {}
    if action == "list_reconfirm":
        return mailing_list, {"days": _deadline_days(options.days)}
    try:
        statement = checked_basis(options.basis, options.statement)
    except ContactRefused as error:
        raise BulkError(str(error)) from None
    return mailing_list, {"basis": options.basis, **({"statement": statement} if statement else {})}


def _deadline_days(value: str) -> int:
    low, high = reconfirmation.MIN_DAYS, reconfirmation.MAX_DAYS
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if not low <= days <= high:
        raise BulkError(f"Give people between {low} and {high} days to answer.")
    return days


def _erase_options(options: Options, total: int) -> dict:
    reason = " ".join((options.reason or "").split())
    if not reason or len(reason) > MAX_REASON or has_controls(reason):
        raise BulkError(f"Say why these contacts are erased (plain text, {MAX_REASON} characters at most).")
    if " ".join(options.confirmation.split()).upper() != f"ERASE {total}":
        raise BulkError(f"Type ERASE {total} to confirm: erasure cannot be undone.")
    return {"reason": reason}


def _count(query: Select) -> int:
    return int(db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def _selected(picked: list[Contact], segment: Segment | None, matching: Matching | None) -> int:
    if matching is not None:
        return _count(matching.query)
    if segment is not None:
        return _count(compile_tree(segment.tree).query)
    return len(picked)


def plan(
    action: str,
    argument: str,
    picked: list[Contact],
    segment: Segment | None,
    *,
    options: Options | None = None,
    matching: Matching | None = None,
    confirm: bool = False,
) -> Planned:
    """Check an action before it starts: what it is done with, how many contacts it covers and the options
    to keep. `confirm`: the options are checked too (the consent basis of a list addition, the reason and
    typed confirmation of an erasure: they are given on the review page)."""
    options = options or Options()
    if action not in LABELS:
        raise BulkError("Choose what to do with the selected contacts.")
    total = _selected(picked, segment, matching)
    if not total:
        raise BulkError("Tick the contacts to act on, or choose a segment with members.")
    if action in ("tag", "untag"):
        name = _tag_argument(action, argument)
        return Planned(name, name, total, {})
    if action in LIST_ACTIONS:
        mailing_list, kept = _list_argument(action, argument, options, confirm)
        return Planned(mailing_list.public_id, mailing_list.name, total, kept)
    kept = _erase_options(options, total) if confirm else {}
    return Planned("", "", total, kept)


def picked_contacts(public_ids: list[str]) -> list[Contact]:
    """The contacts ticked on the page (unknown ids are left out)."""
    if len(public_ids) > MAX_PICKED:
        raise BulkError(f"Tick at most {MAX_PICKED} contacts, or choose a segment.")
    wanted = [p[:32] for p in public_ids if p]
    if not wanted:
        return []
    return list(db.session.execute(select(Contact).where(Contact.public_id.in_(wanted))).scalars())


def start_job(
    action: str,
    argument: str,
    picked: list[Contact],
    segment: Segment | None,
    actor: Any,
    *,
    options: Options | None = None,
    matching: Matching | None = None,
) -> BulkJob:
    """Freeze the selection, count it and queue the worker. The caller commits.

    "All matching" is frozen by writing the matching contacts' ids down in one INSERT … SELECT: whoever
    matches later (or stops matching) does not change the job."""
    planned = plan(action, argument, picked, segment, options=options, matching=matching, confirm=True)
    if matching is not None:
        selection: dict = {"members": matching.described}
    elif segment is not None:
        selection = {"tree": segment.tree, "segment": segment.name}
    else:
        selection = {"ids": sorted(c.id for c in picked)}
    job = BulkJob(
        action=action,
        argument=planned.argument,
        options=planned.options,
        selection=selection,
        total=planned.total,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(job)
    db.session.flush()
    if matching is not None:
        ids = matching.query.subquery()
        db.session.execute(
            insert(BulkJobMember).from_select(
                ["job_id", "contact_id"], select(literal(job.id), ids.c.id).distinct()
            )
        )
        job.total = _count(select(BulkJobMember.contact_id).where(BulkJobMember.job_id == job.id))
        if not job.total:
            raise BulkError("Nobody matches that search any more.")
    enqueue_after_commit(db.session(), "run_bulk_job", job.id)
    return job


def _apply_tags(job: BulkJob, ids: list[int]) -> int:
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


def _ctx(job: BulkJob) -> RequestContext:
    """The ledger's door for a staff action: the staff account, as on the contact page."""
    return RequestContext(f"admin:staff-{job.created_by_id}" if job.created_by_id else "admin:bulk")


def _contacts(ids: list[int]) -> list[Contact]:
    return list(db.session.execute(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id)).scalars())


def _apply_lists(job: BulkJob, ids: list[int], invite: list[Contact]) -> tuple[int, int]:
    """Add to or remove from the job's list; (changed, left alone: people who left the list or everything
    themselves, whom only they can bring back). Contacts owed a double opt-in email go to `invite`."""
    mailing_list = _list_of(job.argument)
    if mailing_list is None or mailing_list.purpose is None:
        return 0, len(ids)
    changed = refused = 0
    if job.action == "list_remove":
        details = {"list": mailing_list.public_id, "reason": "removed_by_staff", "bulk_job": job.public_id}
        for contact in _contacts(ids):
            changed += withdraw_list(contact, mailing_list, _ctx(job), details)
        return changed, 0
    basis = Basis(job.options.get("basis", Basis.DOUBLE_OPT_IN))
    details = {"added_by": "staff", "bulk_job": job.public_id}
    if basis == Basis.PRIOR_CONSENT:
        details["statement"] = job.options.get("statement", "")
    door = Door(_ctx(job), f"bulk:{job.public_id}", basis, details=details, by_person=False)
    for contact in _contacts(ids):
        result = subscribe(contact, [mailing_list.purpose], door)
        if result.purposes(Outcome.OPTED_OUT):
            refused += 1
        elif result.purposes(Outcome.GRANTED) or result.purposes(Outcome.REQUESTED):
            changed += 1
        if result.needs_confirmation:
            invite.append(contact)
    return changed, refused


def _apply_reconfirm(job: BulkJob, ids: list[int]) -> tuple[int, int]:
    """Ask these contacts to re-confirm the job's list (its confirmed subscribers only; those already asked
    and not yet answered keep their first deadline); their emails go out after the batch commits. (asked,
    left alone)."""
    mailing_list = _list_of(job.argument)
    if mailing_list is None or mailing_list.archived_at is not None:
        return 0, len(ids)
    deadline = job.created_at + timedelta(days=int(job.options.get("days", reconfirmation.DEFAULT_DAYS)))
    asked = reconfirmation.ask(mailing_list, ids, job.public_id, deadline)
    if asked:
        enqueue_after_commit(db.session(), "send_list_reconfirmations", asked)
    return len(asked), len(ids) - len(asked)


def _apply_erase(job: BulkJob, ids: list[int]) -> int:
    reason = job.options.get("reason", "")
    contacts = _contacts(ids)
    for contact in contacts:
        hooks.erase(contact, job.created_by, reason)
    return len(contacts)


def _finish(job: BulkJob) -> None:
    job.status, job.finished_at = "done", utcnow()
    what: dict = {"tag": job.argument} if job.action in ("tag", "untag") else {}
    if job.action in LIST_ACTIONS:
        what = {"list": job.argument, **{k: job.options[k] for k in ("basis", "days") if k in job.options}}
    if job.action == ERASE:
        what = {"reason": job.options.get("reason", "")}
    audit.record(
        f"contacts.bulk_{job.action}",
        "bulk_job",
        job.public_id,
        {
            **what,
            "selection": described(job),
            "processed": job.done,
            "changed": job.changed,
            "skipped": job.skipped,
        },
        actor=job.created_by,
    )


def run_batch(job_id: int, size: int | None = None) -> bool:
    """Handle the next batch of one job, committed together with the job's progress; False when finished."""
    job = db.session.execute(select(BulkJob).where(BulkJob.id == job_id).with_for_update()).scalar_one()
    if job.status == "done":
        db.session.rollback()
        return False
    if job.action == LIST_DELETE:
        return _list_delete_batch(job, size or list_service.DELETE_BATCH)
    size = size or (ERASE_BATCH if job.action == ERASE else BATCH)
    members, looked_at = _members_after(job, size)
    rows = db.session.execute(members.add_columns(Contact.status).order_by(Contact.id).limit(size)).all()
    if not rows and looked_at is not None:  # every ticked contact of this stretch is gone: move past it
        job.cursor = looked_at
        db.session.commit()
        return True
    if not rows:
        _finish(job)
        db.session.commit()
        return False
    acted_on = ACTED_ON.get(job.action, ACTIVE_ONLY)
    usable = [cid for cid, status in rows if status in acted_on]
    job.status = "running"
    invite: list[Contact] = []
    left_alone = len(rows) - len(usable)
    if usable and job.action == "list_reconfirm":
        changed, refused = _apply_reconfirm(job, usable)
        job.changed += changed
        left_alone += refused
    elif usable and job.action in LIST_ACTIONS:
        changed, refused = _apply_lists(job, usable, invite)
        job.changed += changed
        left_alone += refused
    elif usable and job.action == ERASE:
        job.changed += _apply_erase(job, usable)
    elif usable:
        job.changed += _apply_tags(job, usable)
    job.skipped += left_alone
    job.done += len(rows)
    job.cursor = rows[-1][0]
    db.session.commit()
    for contact in invite:  # after the commit, as for a contact added by hand (capped per address/domain)
        request_confirmation_email(contact)
    return True


def start_list_delete(
    mailing_list: MailingList, typed_name: str, actor: Any, ip: str | None, via: dict | None = None
) -> BulkJob:
    """Delete a list as a background job: marked deleted at once (list_service.begin_delete: no sign-ups,
    offered nowhere, no send names it), its open subscriptions ended in batches, each committed with the
    job's progress (a restart continues after the last committed batch: exactly one "withdrawn" event per
    person), the tombstone's audit entry at the end. The caller commits; a list of one batch or less may be
    finished at once with run_job (the same path)."""
    summary = list_service.begin_delete(mailing_list, typed_name)
    job = BulkJob(
        action=LIST_DELETE,
        argument=mailing_list.public_id,
        options={"deleted": {**list_service.summary_details(summary), **(via or {})}, "ip": ip},
        selection={"list": mailing_list.public_id},
        total=summary.confirmed + summary.pending,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(job)
    db.session.flush()
    enqueue_after_commit(db.session(), "run_bulk_job", job.id)
    return job


def _list_delete_batch(job: BulkJob, size: int) -> bool:
    mailing_list = _list_of(job.argument)
    if mailing_list is None:  # cannot happen: a deleted list stays as a tombstone
        job.status, job.finished_at = "done", utcnow()
        db.session.commit()
        return False
    ip = job.options.get("ip")
    ctx, details = list_service.deletion_context(mailing_list, job.created_by_id, ip)
    ended = list_service.end_batch(mailing_list, job.cursor, ctx, details, size)
    if ended is None:
        list_service.finish_delete(mailing_list, job.options.get("deleted", {}), job.created_by, ip)
        job.status, job.finished_at = "done", utcnow()
        db.session.commit()
        return False
    job.status = "running"
    job.cursor, count = ended
    job.done += count
    job.changed += count
    db.session.commit()
    return True


def list_deletions(list_ids: list[str]) -> dict[str, BulkJob]:
    """The deletion job of each of these lists (by public id) that has one."""
    if not list_ids:
        return {}
    query = select(BulkJob).where(BulkJob.action == LIST_DELETE, BulkJob.argument.in_(list_ids))
    return {job.argument: job for job in db.session.execute(query.order_by(BulkJob.id)).scalars()}


def unfinished_list_deletions() -> list[BulkJob]:
    """The list deletions still ending subscriptions, oldest first."""
    query = select(BulkJob).where(BulkJob.action == LIST_DELETE, BulkJob.status != "done")
    return list(db.session.execute(query.order_by(BulkJob.id)).scalars())


def run_job(job_id: int) -> None:
    """Run a job to the end, batch by batch (a restart continues from the last committed batch)."""
    while run_batch(job_id):
        pass


def job_by_public_id(public_id: str) -> BulkJob | None:
    return db.session.execute(select(BulkJob).where(BulkJob.public_id == public_id)).scalar_one_or_none()


def recent_jobs(limit: int = 100) -> list[BulkJob]:
    """The latest bulk jobs, newest first."""
    return list(db.session.execute(select(BulkJob).order_by(BulkJob.id.desc()).limit(limit)).scalars())


def subject(job: BulkJob) -> str:
    """What the job does in words: the action and its tag or list."""
    if job.action in LIST_ACTIONS:
        mailing_list = _list_of(job.argument)
        return f"{LABELS[job.action]} “{mailing_list.name if mailing_list else gettext('a deleted list')}”"
    if job.action == LIST_DELETE:
        return f"{LABELS[job.action]} “{job.options.get('deleted', {}).get('name', '')}”"
    if job.action == ERASE:
        return gettext("Erase contacts")
    return f"{LABELS.get(job.action, job.action)} “{job.argument}”"


def progress(job: BulkJob) -> dict:
    total = max(job.total, job.done)
    percent = 100 if job.status == "done" else (job.done * 100 // total if total else 0)
    return asdict(Progress(job.status, total, job.done, job.changed, job.skipped, percent))
