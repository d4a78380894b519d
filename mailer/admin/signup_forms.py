"""Sign-up forms: list, create, edit, preview and the copy-paste snippet."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import func, select

from mailer.admin.blueprint import bp
from mailer.admin.forms import FormWordingForm, SignupFormForm
from mailer.consent.models import Purpose
from mailer.consent.notices import notice_versions
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.subscriptions import forms as form_service
from mailer.subscriptions.lists import active_lists, ensure_tracking_purposes
from mailer.subscriptions.models.forms import Form


def _by_public_id(public_id: str) -> Form:
    """A form, deleted ones included (their page keeps showing the wording versions people saw)."""
    return db.one_or_404(select(Form).where(Form.public_id == public_id))


def _live(public_id: str) -> Form:
    """A form that is not deleted: the only kind that can be changed."""
    form_obj = _by_public_id(public_id)
    if form_obj.deleted_at is not None:
        abort(404)
    return form_obj


def _purpose_choices() -> list[Purpose]:
    ensure_tracking_purposes()
    db.session.commit()  # kept even when the form below is refused (its rollback would expire them mid-page)
    return list(
        db.session.execute(select(Purpose).where(Purpose.kind != "list").order_by(Purpose.name)).scalars()
    )


def _field_rows(form_obj: Form | None) -> list[dict]:
    """One builder row per active custom field: the form's
    own ones first (in order), then the rest by label."""
    own = {ff.field_id: ff for ff in form_obj.fields} if form_obj else {}
    ordered = [ff.field for ff in (form_obj.fields if form_obj else []) if ff.field.active]
    ordered += [f for f in field_service.all_fields() if f.id not in own]
    posted = request.method == "POST"
    used = set(request.form.getlist("ff_use")) if posted else {str(i) for i in own}
    return [
        {
            "field": f,
            "used": str(f.id) in used,
            "label": request.form.get(f"ff_label-{f.id}", "")[:300]
            if posted
            else (own[f.id].label if f.id in own else ""),
            "required": (request.form.get(f"ff_required-{f.id}") == "yes")
            if posted
            else (own[f.id].required if f.id in own else False),
        }
        for f in ordered
    ]


def _edit(form_obj: Form | None):
    """Shared create/edit handler."""
    purposes = _purpose_choices()
    wtform = (
        SignupFormForm(obj=form_obj)
        if form_obj
        else SignupFormForm(
            data={
                "title": "Subscribe to our newsletter",
                "button_label": "Subscribe",
                "ask_name": True,
                "active": True,
                "privacy_text": form_service.DEFAULT_PRIVACY_TEXT,
                "wording_language": i18n.DEFAULT_LANGUAGE,
            }
        )
    )
    offered = active_lists()  # an archived list is offered on no form
    # The form's archived lists stay linked (not shown on the page): un-archiving one brings it back here.
    kept = [lst for lst in (form_obj.lists if form_obj else []) if lst.archived_at is not None]
    wtform.lists.choices = [(lst.id, lst.name) for lst in offered]
    wtform.purposes.choices = [(p.id, p.name) for p in purposes]
    if request.method == "GET" and form_obj is not None:
        wtform.lists.data = [lst.id for lst in form_obj.lists if lst.archived_at is None]
        wtform.purposes.data = [p.id for p in form_obj.purposes]
        wtform.languages.data = list(form_obj.languages or [])
    all_purposes = [lst.purpose for lst in offered if lst.purpose] + purposes
    field_rows = _field_rows(form_obj)
    if wtform.validate_on_submit():
        labels = {p.key: request.form.get(f"label-{p.public_id}", "")[:300] for p in all_purposes}
        for lst in kept:  # their wording is not on the page: keep it as it was
            if form_obj is not None and lst.purpose is not None and lst.purpose.key in form_obj.labels:
                labels[lst.purpose.key] = form_obj.labels[lst.purpose.key]
        settings = form_service.FormSettings(
            slug=wtform.slug.data,
            name=wtform.name.data,
            title=wtform.title.data,
            intro=wtform.intro.data or "",
            button_label=wtform.button_label.data,
            list_ids=[*(wtform.lists.data or []), *(lst.id for lst in kept)],
            purpose_ids=wtform.purposes.data or [],
            labels=labels,
            ask_name=wtform.ask_name.data,
            require_name=wtform.require_name.data,
            min_age=wtform.min_age.data,
            privacy_text=wtform.privacy_text.data or "",
            allowed_origins=wtform.allowed_origins.data or "",
            success_message=wtform.success_message.data or "",
            redirect_url=wtform.redirect_url.data or "",
            after_confirm_url=wtform.after_confirm_url.data or "",
            language=wtform.language.data or "",
            wording_language=wtform.wording_language.data or i18n.DEFAULT_LANGUAGE,
            languages=list(wtform.languages.data or []),
            active=wtform.active.data,
            fields=[
                form_service.FieldSetting(row["field"].id, row["label"], row["required"])
                for row in field_rows
                if row["used"]
            ],
        )
        try:
            saved = form_service.save_form(settings, form_obj, current_user, request.remote_addr)
        except form_service.FormError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            flash(
                gettext("Form saved (wording version %(version)s).", version=saved.notice.version), "success"
            )
            return redirect(url_for("admin.form_show", public_id=saved.public_id))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/forms/edit.html",
        wtform=wtform,
        form_obj=form_obj,
        all_purposes=all_purposes,
        label_value=lambda p: (
            request.form.get(f"label-{p.public_id}")
            if request.method == "POST"
            else (form_obj.labels.get(p.key, "") if form_obj else "")
        ),
        default_label=form_service.default_label,
        field_rows=field_rows,
        archived_lists=kept,
    ), status


@bp.get("/forms")
def forms():
    """The sign-up forms in use, or (`?archived=1`) the archived ones; deleted forms are listed nowhere."""
    archived = request.args.get("archived") == "1"
    live = select(Form).where(Form.deleted_at.is_(None))
    items = (
        db.session.execute(
            live.where(Form.archived_at.is_not(None) if archived else Form.archived_at.is_(None)).order_by(
                Form.name
            )
        )
        .scalars()
        .all()
    )
    archived_count = db.session.execute(
        live.where(Form.archived_at.is_not(None)).with_only_columns(func.count(Form.id))
    ).scalar_one()
    return render_template(
        "admin/forms/index.html", forms=items, archived=archived, archived_count=archived_count
    )


@bp.route("/forms/new", methods=["GET", "POST"])
def form_new():
    """Create a sign-up form."""
    return _edit(None)


@bp.route("/forms/<public_id>/edit", methods=["GET", "POST"])
def form_edit(public_id: str):
    """Edit a sign-up form; changed wording becomes a new notice version."""
    return _edit(_live(public_id))


def _change_form(public_id: str, action: str):
    """The confirm page (GET) and the change (POST) of archive, unarchive and delete."""
    form_obj = _live(public_id)
    if (form_obj.archived_at is not None) != (action == "unarchive") and action != "delete":
        abort(404)  # already in that state: the page for the other direction is the one to use
    if request.method == "POST":
        change = {
            "archive": form_service.archive_form,
            "unarchive": form_service.unarchive_form,
            "delete": form_service.delete_form,
        }[action]
        change(form_obj, current_user, request.remote_addr)
        db.session.commit()
        flash(
            {
                "archive": gettext(
                    "Form “%(form)s” archived: it takes no sign-ups until you un-archive it.",
                    form=form_obj.name,
                ),
                "unarchive": gettext("Form “%(form)s” is back: it takes sign-ups again.", form=form_obj.name),
                "delete": gettext(
                    "Form “%(form)s” deleted. The wording people saw stays in their evidence.",
                    form=form_obj.name,
                ),
            }[action],
            "success",
        )
        if action == "delete":
            return redirect(url_for("admin.forms"))
        return redirect(url_for("admin.form_show", public_id=public_id))
    signups = db.session.execute(
        select(func.count(Contact.id)).where(Contact.source == f"form:{form_obj.slug}")
    ).scalar_one()
    return render_template("admin/forms/change.html", form_obj=form_obj, action=action, signups=signups)


@bp.route("/forms/<public_id>/archive", methods=["GET", "POST"])
def form_archive(public_id: str):
    """Archive a form, after a page that says what happens."""
    return _change_form(public_id, "archive")


@bp.route("/forms/<public_id>/unarchive", methods=["GET", "POST"])
def form_unarchive(public_id: str):
    """Bring an archived form back."""
    return _change_form(public_id, "unarchive")


@bp.route("/forms/<public_id>/delete", methods=["GET", "POST"])
def form_delete(public_id: str):
    """Delete a form (a tombstone: the proof of past sign-ups stays), after a page that says what happens."""
    return _change_form(public_id, "delete")


@bp.get("/forms/<public_id>")
def form_show(public_id: str):
    """Preview, hosted URL, copy-paste snippet and the wording versions of a form."""
    form_obj = _by_public_id(public_id)
    base = current_app.config["MAILER_BASE_URL"]
    # A static snippet says its words in one language: the form's fixed one, or the one chosen here among its
    # published languages for a form that follows the browser.
    snippet_language = form_service.snippet_language(form_obj, request.args.get("lang"))
    snippet = form_service.snippet_html(form_obj, snippet_language, base)
    return render_template(
        "admin/forms/show.html",
        form_obj=form_obj,
        snippet=snippet,
        snippet_language=snippet_language,
        languages=[(code, i18n.language_name(code)) for code in form_service.published_languages(form_obj)],
        language_rows=_language_rows(form_obj),
        base=base,
    )


def _language_rows(form_obj: Form) -> list[dict]:
    """One row per shipped language: its wording's state on this form and its notice versions."""
    published = form_service.published_languages(form_obj)
    rows = []
    for code, own_name in i18n.language_choices():
        own = code == form_obj.wording_language
        row = None if own else form_service.translation(form_obj, code)
        versions = notice_versions(form_service.notice_key(form_obj, code)) if own or row else []
        rows.append(
            {
                "code": code,
                "name": own_name,
                "own": own,
                "written": own or row is not None,
                "published": code in published,
                "versions": versions,
            }
        )
    return rows


def _wording_labels(form_obj: Form, row) -> tuple[dict[str, str], dict[str, str]]:
    """The checkbox and field labels on the language page: as posted, else as saved."""
    purposes = form_service.offered_purposes(form_obj)
    if request.method == "POST":
        return (
            {p.key: request.form.get(f"label-{p.public_id}", "")[:300] for p in purposes},
            {ff.field.key: request.form.get(f"field-{ff.field.id}", "")[:200] for ff in form_obj.fields},
        )
    return (dict(row.labels) if row else {}), (dict(row.field_labels) if row else {})


@bp.route("/forms/<public_id>/languages/<language>", methods=["GET", "POST"])
def form_wording(public_id: str, language: str):
    """Write a form's words in another language; saving publishes that language's notice version."""
    form_obj = _live(public_id)
    if i18n.supported(language) is None or language == form_obj.wording_language:
        abort(404)
    row = form_service.translation(form_obj, language)
    wtform = FormWordingForm(obj=row, data=None if row else {"publish": True})
    if row is not None and request.method == "GET":
        wtform.publish.data = language in (form_obj.languages or [])
    labels, field_labels = _wording_labels(form_obj, row)
    if wtform.validate_on_submit():
        settings = form_service.WordingSettings(
            title=wtform.title.data or "",
            intro=wtform.intro.data or "",
            button_label=wtform.button_label.data or "",
            privacy_text=wtform.privacy_text.data or "",
            success_message=wtform.success_message.data or "",
            labels=labels,
            field_labels=field_labels,
            publish=wtform.publish.data,
        )
        try:
            saved = form_service.save_wording(form_obj, language, settings, current_user, request.remote_addr)
        except form_service.FormError as exc:
            db.session.rollback()
            flash(shown(exc), "danger")
        else:
            db.session.commit()
            name, version = i18n.language_name(language), saved.notice.version
            flash(
                gettext(
                    "%(language)s wording published (wording version %(version)s).",
                    language=name,
                    version=version,
                )
                if settings.publish
                else gettext(
                    "%(language)s wording saved, not published (wording version %(version)s).",
                    language=name,
                    version=version,
                ),
                "success",
            )
            return redirect(url_for("admin.form_show", public_id=public_id))
    with i18n.speaking(language):
        defaults = {p.key: form_service.default_label(p) for p in form_service.offered_purposes(form_obj)}
    return render_template(
        "admin/forms/wording.html",
        form_obj=form_obj,
        wtform=wtform,
        language=language,
        language_name=i18n.language_name(language),
        purposes=form_service.offered_purposes(form_obj),
        labels=labels,
        defaults=defaults,
        field_labels=field_labels,
        own=form_service.wording_for(form_obj, form_obj.wording_language),
    ), 400 if request.method == "POST" else 200
