"""Privacy requests (the register), and the privacy actions on a contact: restrict, erase, rectify, reveal."""

from datetime import datetime, time

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_date, gettext
from flask_login import current_user
from sqlalchemy import select

from mailer import audit
from mailer.admin.blueprint import bp
from mailer.admin.privacy_forms import ActionForm, ExtendForm, RectifyForm, RequestForm, RevealForm
from mailer.consent.ledger import RequestContext
from mailer.contacts import fields
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.core.web import db_int
from mailer.privacy import export, requests
from mailer.privacy.fulfil import erase_on_staff_decision, fulfil
from mailer.privacy.models.requests import REQUEST_STATUSES, REQUEST_TYPES, PrivacyRequest, RequestType
from mailer.privacy.objection import has_objected_to_marketing, lift_marketing_objection
from mailer.privacy.rectification import Correction, apply_changes, pending_address_change, validate
from mailer.privacy.restriction import lift_restriction, restrict


def _ctx() -> RequestContext:
    """Ledger context of a staff action: the door names the staff account, not the person's IP."""
    return RequestContext(f"admin:staff-{current_user.id}")


def _request(public_id: str) -> PrivacyRequest:
    return db.one_or_404(select(PrivacyRequest).where(PrivacyRequest.public_id == public_id))


def _contact(public_id: str) -> Contact:
    return db.one_or_404(select(Contact).where(Contact.public_id == public_id))


@bp.get("/privacy")
def privacy_requests():
    """The register: open, due soon and overdue requests first."""
    status = request.args.get("status", "open")
    status = status if status in ("open", "closed", "all", *REQUEST_STATUSES) else "open"
    type_ = request.args.get("type", "")
    type_ = type_ if type_ in REQUEST_TYPES else ""
    when = request.args.get("when", "")
    when = when if when in ("due_soon", "overdue") else ""
    page = max(1, request.args.get("page", 1, type=db_int) or 1)
    rows, total = requests.list_requests("" if status == "all" else status, type_, when, page=page)
    return render_template(
        "admin/privacy/index.html",
        rows=rows,
        total=total,
        page=page,
        status=status,
        type_=type_,
        when=when,
        counts=requests.register_counts(),
        types=REQUEST_TYPES,
        labels=requests.TYPE_LABELS,
        now=utcnow(),
    )


@bp.route("/privacy/new", methods=["GET", "POST"])
def privacy_request_new():
    """Log a request that arrived by email, phone or letter."""
    form = RequestForm()
    if form.validate_on_submit():
        received = datetime.combine(form.received_on.data, time(12)) if form.received_on.data else None
        try:
            req = requests.open_request(
                form.type.data,
                form.channel.data,
                email=form.email.data,
                received_at=received,
                note=form.note.data or "",
                handled_by=current_user,
            )
        except PrivacyError as exc:
            flash(shown(exc), "danger")
        else:
            audit.record(
                "request.create",
                "privacy_request",
                req.public_id,
                {"type": req.type, "channel": req.channel},
                actor=current_user,
                ip=request.remote_addr,
            )
            db.session.commit()
            flash(
                gettext("Request logged. It is due %(date)s.", date=format_date(req.due_at, "long")),
                "success",
            )
            return redirect(url_for("admin.privacy_request_show", public_id=req.public_id))
    return render_template(
        "admin/privacy/new.html", form=form
    ), 400 if form.errors or request.method == "POST" else 200


@bp.get("/privacy/<public_id>")
def privacy_request_show(public_id: str):
    """One request: its clock, verification, what was done, and whom to notify."""
    req = _request(public_id)
    return render_template(
        "admin/privacy/show.html",
        req=req,
        action_form=ActionForm(),
        extend_form=ExtendForm(),
        labels=requests.TYPE_LABELS,
        now=utcnow(),
        events=audit.events_for("privacy_request", req.public_id),
    )


def _back(req: PrivacyRequest):
    return redirect(url_for("admin.privacy_request_show", public_id=req.public_id))


def _log(req: PrivacyRequest, what: str, **details) -> None:
    audit.record(
        "request.update",
        "privacy_request",
        req.public_id,
        {"step": what, **details},
        actor=current_user,
        ip=request.remote_addr,
    )


@bp.post("/privacy/<public_id>/verify")
def privacy_request_send_verification(public_id: str):
    """Send the signed verification link to the address on file."""
    req = _request(public_id)
    if not ActionForm().validate_on_submit():
        return _back(req)
    try:
        requests.send_verification(req)
    except PrivacyError as exc:
        flash(shown(exc), "danger")
        return _back(req)
    _log(req, "verification link sent")
    db.session.commit()
    flash(gettext("Verification link sent to the address on file."), "success")
    return _back(req)


@bp.post("/privacy/<public_id>/extend")
def privacy_request_extend(public_id: str):
    """Extend by two months (once, within the first month, with the person told)."""
    req = _request(public_id)
    form = ExtendForm()
    if form.validate_on_submit():
        try:
            requests.extend(req, form.reason.data, datetime.combine(form.told_on.data, time(12)))
        except PrivacyError as exc:
            flash(shown(exc), "danger")
        else:
            until = req.extended_until
            assert until is not None  # extend() has just set it
            audit.record(
                "request.extend",
                "privacy_request",
                req.public_id,
                {"until": until.date().isoformat()},
                actor=current_user,
                ip=request.remote_addr,
            )
            db.session.commit()
            flash(gettext("Deadline extended to %(date)s.", date=format_date(until, "long")), "success")
    else:
        flash(gettext("Give a reason and the date the person was told."), "danger")
    return _back(req)


@bp.post("/privacy/<public_id>/fulfil")
def privacy_request_fulfil(public_id: str):
    """Carry out the verified request."""
    req = _request(public_id)
    if not ActionForm().validate_on_submit():
        return _back(req)
    try:
        outcome = fulfil(req, _ctx(), actor=current_user, ip=request.remote_addr)
    except PrivacyError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return _back(req)
    req.handled_by = current_user
    _log(req, "fulfilled", outcome=outcome[:200])
    db.session.commit()
    flash(outcome, "success")
    return _back(req)


@bp.post("/privacy/<public_id>/refuse")
def privacy_request_refuse(public_id: str):
    """Refuse with a reason (Art. 12(4), (5))."""
    req = _request(public_id)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            requests.refuse(req, form.reason.data or "", current_user)
        except PrivacyError as exc:
            flash(shown(exc), "danger")
            return _back(req)
        _log(req, "refused")
        db.session.commit()
        flash(
            gettext("Request refused; tell the person why and that they may complain to the authority."),
            "info",
        )
    return _back(req)


@bp.post("/privacy/<public_id>/notify")
def privacy_request_notify(public_id: str):
    """Record that a recipient was told about the change (Art. 19)."""
    req = _request(public_id)
    if ActionForm().validate_on_submit():
        try:
            requests.mark_notified(req, request.form.get("recipient", ""), current_user.email)
        except PrivacyError as exc:
            flash(shown(exc), "danger")
            return _back(req)
        audit.record(
            "request.notify",
            "privacy_request",
            req.public_id,
            {"recipient": request.form.get("recipient")},
            actor=current_user,
            ip=request.remote_addr,
        )
        db.session.commit()
    return _back(req)


@bp.post("/privacy/<public_id>/send-export")
def privacy_request_send_export(public_id: str):
    """Email the person their download link (sensitive fields in clear only there)."""
    req = _request(public_id)
    if ActionForm().validate_on_submit():
        if (
            req.type not in ("access", "portability")
            or req.identity_verified_at is None
            or req.contact is None
        ):
            flash(gettext("Only a verified access or portability request gets a download link."), "danger")
            return _back(req)
        enqueue_after_commit(db.session, "send_export_link", req.id)
        _log(req, "download link sent")
        db.session.commit()
        flash(gettext("Download link sent to the person."), "success")
    return _back(req)


@bp.get("/privacy/<public_id>/export.zip")
def privacy_request_export(public_id: str):
    """The person's data as staff may see it (sensitive fields masked); audited."""
    req = _request(public_id)
    if req.contact is None or req.contact.status == ContactStatus.ERASED:
        flash(gettext("There is no data to export for this request."), "danger")
        return _back(req)
    payload = export.build_zip(req.contact, clear_sensitive=False)
    audit.record(
        "contact.export",
        "contact",
        req.contact.public_id,
        {"request": req.public_id, "masked": True},
        actor=current_user,
        ip=request.remote_addr,
    )
    db.session.commit()
    response = make_response(payload)
    response.headers["Content-Type"] = "application/zip"
    response.headers["Content-Disposition"] = f'attachment; filename="data-{req.public_id}.zip"'
    return response


# --- Privacy actions on a contact (linked from the contact page) --------------------------------------------


def _contact_back(contact: Contact):
    return redirect(url_for("admin.contact_show", public_id=contact.public_id))


def _contact_action(
    public_id: str,
    type_: str,
    outcome: str,
    action,
    done: str,
    category: str = "success",
    details: dict | None = None,
):
    """A privacy action staff run on a contact: registered
    as a completed request, then applied (ledger, audit)."""
    contact = _contact(public_id)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            req = requests.record_operator_request(
                type_, contact, "admin", outcome, details=details, handled_by=current_user, method="staff"
            )
            action(
                contact,
                _ctx(),
                request=req,
                actor=current_user,
                ip=request.remote_addr,
                reason=form.reason.data or "",
            )
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
            return _contact_back(contact)
        db.session.commit()
        flash(done, category)
    return _contact_back(contact)


@bp.post("/privacy/contacts/<public_id>/restrict")
def privacy_contact_restrict(public_id: str):
    """Restrict processing of a contact (recorded in the register, the ledger and the audit log)."""
    return _contact_action(
        public_id,
        "restriction",
        "Processing restricted by staff.",
        restrict,
        gettext("Contact restricted: no emails and no changes until the restriction is lifted."),
        "warning",
    )


@bp.post("/privacy/contacts/<public_id>/unrestrict")
def privacy_contact_unrestrict(public_id: str):
    """Lift a restriction."""
    return _contact_action(
        public_id,
        "restriction",
        "Restriction lifted by staff.",
        lift_restriction,
        gettext("Restriction lifted."),
        details={"action": "lift"},
    )


def _lift_on_instruction(contact: Contact, ctx: RequestContext, **kwargs) -> None:
    if not lift_marketing_objection(contact, ctx, "staff-on-instruction", **kwargs):
        raise PrivacyError("This contact has not objected to direct marketing: there is nothing to lift.")


@bp.post("/privacy/contacts/<public_id>/lift-objection")
def privacy_contact_lift_objection(public_id: str):
    """Record, on the person's own instruction and with how they gave it, that they want marketing again."""
    return _contact_action(
        public_id,
        "objection",
        "Objection to direct marketing lifted on the person's instruction.",
        _lift_on_instruction,
        gettext("Objection lifted. Lists stay as they are until the person subscribes again."),
        details={"action": "lift"},
    )


@bp.post("/privacy/contacts/<public_id>/erase")
def privacy_contact_erase(public_id: str):
    """Erase a contact by anonymisation; needs the word ERASE typed, as it cannot be undone."""
    contact = _contact(public_id)
    form = ActionForm()
    if not form.validate_on_submit() or request.form.get("confirm", "").strip().upper() != "ERASE":
        flash(gettext("Type ERASE to confirm: erasure cannot be undone."), "danger")
        return _contact_back(contact)
    try:
        req = erase_on_staff_decision(contact, current_user, ip=request.remote_addr)
    except PrivacyError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return _contact_back(contact)
    db.session.commit()
    flash(gettext("Contact erased. Recipients to notify are listed on the request."), "success")
    return redirect(url_for("admin.privacy_request_show", public_id=req.public_id))


@bp.route("/privacy/contacts/<public_id>/rectify", methods=["GET", "POST"])
def privacy_contact_rectify(public_id: str):
    """Correct a contact's data on their behalf; every staff edit is audited."""
    contact = _contact(public_id)
    if contact.status == ContactStatus.ERASED:
        flash(gettext("This contact was erased."), "danger")
        return _contact_back(contact)
    form = RectifyForm(obj=contact)
    all_fields = fields.all_fields()
    if form.validate_on_submit():
        correction = Correction(
            name=form.name.data or "",
            email=form.email.data or None,
            fields={
                f.key: request.form.get(f"field_{f.key}", "")
                for f in all_fields
                if not f.is_sensitive or request.form.get(f"field_{f.key}")
            },
        )
        try:
            changes = validate(contact, correction)
            req = requests.open_request(
                RequestType.RECTIFICATION, "admin", contact=contact, handled_by=current_user
            )
            requests.mark_verified(req, "staff")
            applied = apply_changes(
                contact, changes, _ctx(), request=req, actor=current_user, ip=request.remote_addr
            )
        except PrivacyError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            flash(
                gettext("Saved: %(fields)s.", fields=", ".join(applied))
                if applied
                else gettext("Saved: nothing changed."),
                "success",
            )
            return _contact_back(contact)
    values = {f.key: ("" if f.is_sensitive else fields.read_value(contact, f) or "") for f in all_fields}
    return render_template(
        "admin/privacy/rectify.html",
        contact=contact,
        form=form,
        fields=all_fields,
        values=values,
        pending=pending_address_change(contact),
    ), 400 if request.method == "POST" else 200


@bp.post("/privacy/contacts/<public_id>/reveal/<field_key>")
def privacy_contact_reveal(public_id: str, field_key: str):
    """Show one sensitive value to a permitted role that gave a reason; audited."""
    contact = _contact(public_id)
    field = fields.field_by_key(field_key)
    form = RevealForm()
    if field is None:
        return redirect(url_for("admin.contact_show", public_id=public_id))
    if not form.validate_on_submit():
        flash(gettext("Say why you need to see this value (at least a few words)."), "danger")
        return _contact_back(contact)
    try:
        value = fields.reveal(contact, field, current_user, form.reason.data, request.remote_addr)
    except PrivacyError as exc:
        flash(shown(exc), "danger")
        return _contact_back(contact)
    return render_template("admin/privacy/reveal.html", contact=contact, field=field, value=value)


@bp.app_context_processor
def contact_privacy_helpers():
    """The contact pages call privacy_panel(contact) for fields, restriction and requests."""

    def privacy_panel(contact: Contact) -> dict:
        return {
            "fields": fields.display_fields(contact) if contact.status != ContactStatus.ERASED else [],
            "requests": requests.requests_for(contact),
            "objected_marketing": has_objected_to_marketing(contact),
            "action_form": ActionForm(),
            "reveal_form": RevealForm(),
        }

    return {"privacy_panel": privacy_panel}
