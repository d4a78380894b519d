"""The audit log: filter staff actions on personal data and settings, export them as CSV."""

from datetime import date, datetime, timedelta

from flask import make_response, render_template, request
from flask_login import current_user
from sqlalchemy import select

from mailer import audit
from mailer.admin.blueprint import bp
from mailer.core.extensions import db
from mailer.core.web import db_int
from mailer.staff.models.accounts import StaffUser

# An audit action's words in the viewer's language, wherever a page lists audit events.
bp.add_app_template_global(audit.action_name, "audit_action_name")


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filter() -> audit.AuditFilter:
    since, until = _day("since"), _day("until")
    return audit.AuditFilter(
        action=request.args.get("action", "")[:60],
        actor_id=request.args.get("actor", type=db_int),
        target_id=request.args.get("target", "")[:64],
        since=datetime.combine(since, datetime.min.time()) if since else None,
        until=datetime.combine(until, datetime.min.time()) + timedelta(days=1) if until else None,
    )


@bp.get("/audit")
def audit_log():
    """Newest first, filterable by action, staff member, record and dates."""
    flt = _filter()
    page = max(1, request.args.get("page", 1, type=db_int) or 1)
    rows, total = audit.search(flt, page)
    staff = db.session.execute(select(StaffUser).order_by(StaffUser.email)).scalars().all()
    return render_template(
        "admin/privacy/audit.html",
        rows=rows,
        total=total,
        page=page,
        flt=flt,
        staff=staff,
        actions=audit.ACTIONS,  # lazy words: the page shows them in the viewer's language
        args=request.args,
        filter_args={k: v for k, v in request.args.items() if k != "page" and v},
    )


@bp.get("/audit.csv")
def audit_export():
    """The filtered log as CSV; exporting it is itself audited."""
    flt = _filter()
    body = audit.export_csv(flt)
    audit.record(
        "audit.export",
        "audit",
        "",
        {k: v for k, v in request.args.items() if v},
        actor=current_user,
        ip=request.remote_addr,
    )
    db.session.commit()
    response = make_response(body)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
