"""The suppression list on the Deliverability page: search by a full address, paged, removal with a typed
reason (owners and admins, audited)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from mailer.admin.blueprint import bp
from mailer.contacts import suppression
from mailer.contacts.operations import AddressError
from mailer.core.extensions import db
from mailer.core.sentences import shown


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        abort(400, gettext("The page number must be a whole number from 1."))
    return int(raw)


def _render(status: int = 200, **context):
    page = _page_number()
    entries, total = suppression.suppression_page(page)
    pages = max((total + suppression.PAGE_SIZE - 1) // suppression.PAGE_SIZE, 1)
    return (
        render_template(
            "admin/deliverability/suppressions.html",
            entries=entries,
            total=total,
            page=page,
            pages=pages,
            removals=suppression.recent_removals(),
            min_reason=suppression.MIN_REMOVAL_REASON,
            max_reason=suppression.MAX_REMOVAL_REASON,
            suppression_reason=suppression.reason_label,
            **context,
        ),
        status,
    )


@bp.get("/deliverability/suppressions")
def suppressions():
    """The list newest first; `q` looks one full address up through the same keyed hash."""
    query = (request.args.get("q") or "").strip()
    if not query:
        return _render()
    try:
        found = suppression.find_suppression(query)
    except AddressError as exc:
        return _render(400, query=query, search_error=shown(exc))
    return _render(query=query, searched=True, found=found)


@bp.post("/deliverability/suppressions/<int:suppression_id>/remove")
def suppression_remove(suppression_id: int):
    """Take one address off the list with the typed reason (and the confirmation a bounce needs)."""
    try:
        entry = suppression.remove_suppression(
            suppression_id,
            request.form.get("reason", ""),
            confirmed=request.form.get("confirm") == "yes",
            actor=current_user,
            ip=request.remote_addr,
        )
    except LookupError:
        abort(404)
    except suppression.SuppressionError as exc:
        db.session.rollback()
        return _render(
            400,
            removing=suppression.get_suppression(suppression_id),
            remove_error=shown(exc),
            reason=request.form.get("reason", ""),
        )
    db.session.commit()
    flash(
        gettext(
            "Suppression %(fingerprint)s… removed; the removal and your reason are in the audit log.",
            fingerprint=entry.fingerprint,
        ),
        "success",
    )
    return redirect(url_for("admin.suppressions"))
