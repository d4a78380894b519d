"""Transactional templates: list, new/edit with a preview, the template page (preview, test send, archive)
and the sent log with each message's status."""

import json

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import ActionForm
from mailer.admin.campaigns import EDITOR_CSP, PREVIEW_DOCUMENT_CSP
from mailer.admin.transactional_forms import TxTemplateForm, TxTestForm
from mailer.core import test_sends
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.delivery.relays import all_relays
from mailer.transactional import operations as tx
from mailer.transactional import templates as tx_templates
from mailer.transactional.models import TxStatus, TxTemplate
from mailer.transactional.rendering import SAMPLE_DATA, TemplateRenderError

SAMPLE_JSON = json.dumps(SAMPLE_DATA, indent=2)
# What each message status is called on the admin's pages and what it means (TxStatus keeps English codes).
TX_STATUS_NAMES: dict[str, object] = {
    TxStatus.QUEUED: lazy_gettext("queued"),
    TxStatus.SENDING: lazy_gettext("sending"),
    TxStatus.SENT: lazy_gettext("sent"),
    TxStatus.FAILED: lazy_gettext("failed"),
    TxStatus.REFUSED: lazy_gettext("refused"),
    TxStatus.UNCERTAIN: lazy_gettext("uncertain"),
}
TX_STATUS_MEANINGS: dict[str, object] = {
    TxStatus.QUEUED: lazy_gettext("waiting for a worker"),
    TxStatus.SENT: lazy_gettext("the relay accepted it"),
    TxStatus.FAILED: lazy_gettext("refused by the relay, or the template could not render"),
    TxStatus.REFUSED: lazy_gettext(
        "the contact was restricted or erased, or the address suppressed, before it went"
    ),
    TxStatus.UNCERTAIN: lazy_gettext("a worker stopped mid-send; it may have left and is not sent again"),
}
# A refused message stores the refusal's code (operations.refusal_of); the log says it in words.
TX_REFUSAL_NAMES = {
    "erased": lazy_gettext("the contact was erased"),
    "restricted": lazy_gettext("the contact's processing is restricted"),
    "suppressed": lazy_gettext("the address is on the suppression list"),
}


def tx_status_name(status: str) -> str:
    """A message status's name in the page's language; an unknown code as it is."""
    return str(TX_STATUS_NAMES.get(status, status))


def tx_reason_text(reason: str) -> str:
    """A message's stored reason: a refusal's code in words; a relay's reply or render problem as stored."""
    return str(TX_REFUSAL_NAMES.get(reason, reason))


bp.add_app_template_global(tx_status_name)
bp.add_app_template_global(tx_reason_text)
STARTER_BODY = """Hello {{ contact.first_name | default("there") }},

Someone asked to reset the password of your account. If it was you, choose a new one here:

[Choose a new password]({{ data.reset_url }})

If it wasn't you, ignore this email: nothing changes.
"""


def _template(public_id: str) -> TxTemplate:
    template = tx_templates.by_public_id(public_id)
    if template is None:
        abort(404)
    return template


def _parse_data(raw: str | None) -> tuple[dict, str | None]:
    """Merge data typed as JSON: (data, None) or ({}, a message for the person)."""
    if not (raw or "").strip():
        return {}, None
    try:
        data = json.loads(raw or "")
    except json.JSONDecodeError as exc:
        return {}, gettext(
            "The merge data is not valid JSON: %(problem)s (line %(line)s).", problem=exc.msg, line=exc.lineno
        )
    if not isinstance(data, dict):
        return {}, gettext(
            "The merge data must be a JSON object, like %(example)s.", example='{"order_number": "1001"}'
        )
    return data, None


def _preview(template: TxTemplate, data: dict):
    """(rendered, None) or (None, what to fix)."""
    try:
        return tx_templates.preview(template, data), None
    except TemplateRenderError as exc:
        return None, shown(exc)


@bp.get("/transactional")
def tx_templates_index():
    """Transactional templates, the archived ones apart."""
    return render_template(
        "admin/transactional/index.html",
        templates=tx_templates.all_templates(),
        archived=tx_templates.all_templates(archived=True),
    )


def _edit(template: TxTemplate | None):
    form = TxTemplateForm(obj=template)
    form.relay_id.choices = [
        ("", gettext("The default relay (SMTP_URL)")),
        *((r.id, r.name) for r in all_relays()),
    ]
    if request.method == "GET":
        form.sample_data.data = SAMPLE_JSON
        if template is None:
            form.body.data = STARTER_BODY
    problems: list[str] = []
    preview = None
    if request.method == "POST":
        if not form.validate():
            problems = [message for field in form for message in field.errors]
        fields = {
            name: getattr(form, name).data for name in ("key", "name", "subject", "body", "body_format")
        }
        fields.update(reply_to=form.reply_to.data, relay_id=form.relay_id.data)
        if not problems and request.form.get("action") == "preview":
            data, problem = _parse_data(form.sample_data.data)
            trial = TxTemplate(**{**fields, "body_format": fields["body_format"] or "markdown"})
            preview, render_problem = _preview(trial, data) if problem is None else (None, problem)
            problems = [render_problem] if render_problem else []
            db.session.rollback()
        elif not problems:
            try:
                saved = tx_templates.save_template(fields, template, actor=current_user)
            except tx_templates.TemplateError as exc:
                db.session.rollback()
                problems = exc.problems
            else:
                flash(gettext("Template “%(name)s” saved.", name=saved.name), "success")
                return redirect(url_for("admin.tx_template_show", public_id=saved.public_id))
    status = 400 if problems else 200
    body = render_template(
        "admin/transactional/edit.html", form=form, template=template, problems=problems, preview=preview
    )
    response = make_response(body, status)
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    return response


@bp.route("/transactional/new", methods=["GET", "POST"])
def tx_template_new():
    """Write a new transactional template (Preview shows it with the sample data before saving)."""
    return _edit(None)


@bp.route("/transactional/<public_id>/edit", methods=["GET", "POST"])
def tx_template_edit(public_id: str):
    """Change a transactional template."""
    return _edit(_template(public_id))


@bp.get("/transactional/<public_id>")
def tx_template_show(public_id: str):
    """A template: its preview with sample data, the test send, archive, and its latest messages."""
    template = _template(public_id)
    messages, total = tx.sent_log(per_page=10, template=template)
    test_form = TxTestForm(data={"address": current_user.email, "data": SAMPLE_JSON})
    return _show(template, test_form, messages, total, 200)


def _show(template, test_form, messages, total, status, problem: str | None = None):
    api_example = {
        "template": template.key,
        "email": "person@example.com",
        "data": {"reset_url": "https://…"},
    }
    body = render_template(
        "admin/transactional/show.html",
        template=template,
        api_example=json.dumps(api_example, indent=1, ensure_ascii=False),
        test_form=test_form,
        action_form=ActionForm(),
        messages=messages,
        total=total,
        problem=problem,
    )
    response = make_response(body, status)
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    return response


@bp.get("/transactional/<public_id>/preview.html")
def tx_template_preview_document(public_id: str):
    """The template rendered with the sample data, for the preview iframe (sandboxed: no scripts run)."""
    rendered, problem = _preview(_template(public_id), dict(SAMPLE_DATA))
    if rendered is not None:
        body = rendered.html
    else:
        body = render_template("admin/campaigns/preview_problem.html", problem=problem)
    response = make_response(body, 200)
    response.headers["Content-Security-Policy"] = PREVIEW_DOCUMENT_CSP
    return response


@bp.post("/transactional/<public_id>/test")
def tx_template_test(public_id: str):
    """Queue a test of the template to one address, with the merge data typed on the page (one test of the
    staff member's budget, shared with every other kind of test: core/test_sends.py)."""
    template = _template(public_id)
    form = TxTestForm()
    problem = None
    if not form.validate():
        problem = " ".join(message for field in form for message in field.errors)
    refused = test_sends.refusal() if problem is None else None
    if refused is not None:  # the budget is spent: said above the test form, what was typed kept
        messages, total = tx.sent_log(per_page=10, template=template)
        return test_sends.too_many(_show(template, form, messages, total, 200, refused[0]), refused[1])
    data, data_problem = _parse_data(form.data.data)
    problem = problem or data_problem
    if problem is None:
        try:
            tx.queue_test(template, form.address.data or "", data, actor=current_user)
        except tx.TxRefused as exc:
            db.session.rollback()
            problem = exc.message
        else:
            test_sends.spend()
            flash(
                gettext(
                    "A test of “%(name)s” is on its way to %(address)s.",
                    name=template.name,
                    address=form.address.data,
                ),
                "success",
            )
            return redirect(url_for("admin.tx_template_show", public_id=template.public_id))
    messages, total = tx.sent_log(per_page=10, template=template)
    return _show(template, form, messages, total, 400, problem)


@bp.post("/transactional/<public_id>/archive")
def tx_template_archive(public_id: str):
    """Archive a template (the API refuses it) or restore it."""
    template = _template(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    archive = template.archived_at is None
    tx_templates.set_archived(template, archive, actor=current_user)
    if archive:
        flash(gettext("“%(name)s” archived: the API refuses it now.", name=template.name), "success")
    else:
        flash(gettext("“%(name)s” restored.", name=template.name), "success")
    return redirect(url_for("admin.tx_template_show", public_id=template.public_id))


@bp.get("/transactional/log")
def tx_log():
    """Every transactional message, newest first, with its status."""
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    messages, total = tx.sent_log(page=page)
    return render_template(
        "admin/transactional/log.html",
        messages=messages,
        total=total,
        page=page,
        pages=max((total + 49) // 50, 1),
        statuses=tuple(TxStatus),
        status_meanings=[(status, TX_STATUS_MEANINGS.get(status)) for status in TxStatus],
    )
