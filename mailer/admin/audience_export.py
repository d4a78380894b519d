"""Export a list's or a saved segment's contacts to CSV (owners and admins), with a reason for the audit."""

from flask import Response, abort, flash, render_template, request, stream_with_context
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import Length

from mailer.admin.blueprint import bp
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.privacy.audience_export import Audience, csv_chunks, exported_fields, start_export
from mailer.segments.operations import segment_by_public_id
from mailer.subscriptions.models.lists import MailingList


class ExportForm(FlaskForm):
    reason = TextAreaField(
        lazy_gettext("Why do you need this file? (recorded in the audit log with your name)"),
        validators=[Length(max=500)],
    )


def _export(audience: Audience):
    """Ask for the reason, then stream the CSV (the audit entry is committed before the first row)."""
    form = ExportForm()
    if form.validate_on_submit():
        try:
            filename = start_export(audience, form.reason.data or "", current_user, request.remote_addr)
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            return Response(
                stream_with_context(csv_chunks(audience)),
                mimetype="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
    return render_template(
        "admin/contacts/export.html", audience=audience, form=form, fields=exported_fields()
    ), 400 if request.method == "POST" else 200


@bp.route("/lists/<public_id>/export", methods=["GET", "POST"])
def list_export(public_id: str):
    """A list's contacts (in any subscription state) as CSV."""
    query = select(MailingList).where(MailingList.public_id == public_id)
    return _export(Audience(mailing_list=db.one_or_404(query)))


@bp.route("/segments/<public_id>/export", methods=["GET", "POST"])
def segment_export(public_id: str):
    """A saved segment's contacts, as it matches now, as CSV."""
    segment = segment_by_public_id(public_id)
    if segment is None:
        abort(404)
    return _export(Audience(segment=segment))
