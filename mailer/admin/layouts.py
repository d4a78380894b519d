"""Layouts: list, create, edit (refused without every footer part), copy, delete and preview."""

from flask import abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import ActionForm, LayoutForm
from mailer.admin.campaigns import EDITOR_CSP, PREVIEW_DOCUMENT_CSP, render_preview
from mailer.campaigns import layouts as layout_service
from mailer.campaigns import visual
from mailer.campaigns.drafts import default_sender
from mailer.campaigns.models import Campaign, Layout
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.organisation import brand

SAMPLE_BODY = """# A headline for your news

This is sample content, so you can see how the layout looks. It has **bold text**, *italics* and
[a link](https://www.example.com).

## A smaller heading

- A first point
- A second point with a bit more text, to see how it wraps on a phone

> A quote stands out like this.

Best wishes,
The team
"""


def _by_public_id(public_id: str) -> Layout:
    return db.one_or_404(select(Layout).where(Layout.public_id == public_id[:32]))


def _sample_campaign(layout: Layout) -> Campaign:
    """An unsaved campaign that shows a layout with sample content."""
    name, address = default_sender()
    sample = Campaign(
        public_id="layout-preview",
        name="Layout preview",
        subject="Your monthly news",
        preheader="A short line that inboxes show after the subject",
        from_name=name,
        from_email=address,
        body_format="markdown",
        body=SAMPLE_BODY,
        text_body="",
        status="draft",
        compliance={},
        timezone="UTC",
    )
    sample.layout = layout
    sample.layout_id = layout.id
    return sample


@bp.get("/layouts")
def layouts():
    """Every layout, with how many campaigns use it."""
    layout_service.ensure_builtin_layouts()
    db.session.commit()
    return render_template(
        "admin/layouts/index.html",
        layouts=layout_service.all_layouts(),
        usage=layout_service.usage_counts(),
        action_form=ActionForm(),
    )


def visual_start() -> str:
    """A new visual layout's starting design, in the brand, with its words in the marketer's language."""
    words = layout_service.StartWords(
        why=gettext("You receive this email because you subscribed to news from {{ organisation }}."),
        preferences=gettext("Manage your preferences"),
        unsubscribe=gettext("Unsubscribe"),
        privacy=gettext("Privacy notice"),
    )
    return layout_service.visual_start_html(brand.current(), words)


def _edit(layout: Layout | None):
    if layout is not None and layout.builtin:
        flash(gettext("Built-in layouts can't be changed. Make a copy and edit that instead."), "warning")
        return redirect(url_for("admin.layout_show", public_id=layout.public_id))
    if layout is None and request.method == "GET":
        if request.args.get("format") == "visual":
            form = LayoutForm(data={"name": "", "html": visual_start(), "html_format": "visual"})
        else:
            start = layout_service.default_layout()
            form = LayoutForm(data={"name": "", "html": start.html if start else "", "html_format": "html"})
    else:
        form = LayoutForm(obj=layout)
    problems: list[str] = []
    if form.validate_on_submit():
        try:
            saved = layout_service.save_layout(
                form.name.data,
                form.html.data,
                layout,
                form.html_format.data or "html",
                form.project.data or "",
            )
        except layout_service.LayoutError as exc:
            db.session.rollback()
            problems = exc.problems
        else:
            db.session.commit()
            flash(gettext("Layout “%(name)s” saved.", name=saved.name), "success")
            return redirect(url_for("admin.layout_show", public_id=saved.public_id))
    problems += [message for field in form for message in field.errors]
    status = 400 if request.method == "POST" else 200
    body = render_template("admin/layouts/edit.html", form=form, layout=layout, problems=problems)
    response = make_response(body, status)
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    return response


@bp.route("/layouts/new", methods=["GET", "POST"])
def layout_new():
    """Write a new layout (starts from the default one)."""
    layout_service.ensure_builtin_layouts()
    return _edit(None)


@bp.route("/layouts/<public_id>/edit", methods=["GET", "POST"])
def layout_edit(public_id: str):
    """Change a marketer's layout."""
    return _edit(_by_public_id(public_id))


@bp.get("/layouts/<public_id>")
def layout_show(public_id: str):
    """A layout previewed with sample content, at desktop and phone widths, and its source."""
    layout = _by_public_id(public_id)
    rendered, problem = render_preview(_sample_campaign(layout))
    db.session.rollback()
    body = render_template(
        "admin/layouts/show.html",
        layout=layout,
        problem=problem,
        rendered=rendered,
        usage=layout_service.usage_counts().get(layout.id, 0),
        action_form=ActionForm(),
    )
    response = make_response(body)
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    return response


@bp.get("/layouts/<public_id>/preview.html")
def layout_preview_document(public_id: str):
    """The layout rendered with sample content, for the preview iframes (sandboxed)."""
    layout = _by_public_id(public_id)
    rendered, problem = render_preview(_sample_campaign(layout))
    db.session.rollback()
    body = (
        rendered.html
        if rendered
        else render_template("admin/campaigns/preview_problem.html", problem=problem)
    )
    response = make_response(body)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = PREVIEW_DOCUMENT_CSP
    return response


@bp.post("/layouts/preview.json")
def layout_preview_json():
    """The layout being typed, rendered with sample content, and its problems (for the live preview)."""
    form = LayoutForm()
    form.validate()  # CSRF was checked before the view; the rest only parses
    html = form.html.data or ""
    if form.html_format.data == "visual":
        html = visual.clean_exported_html(html)
    name, html, problems = layout_service.check_layout(form.name.data or "untitled", html)
    rendered, problem = (None, None)
    if html.strip() and len(html) <= layout_service.MAX_HTML_LENGTH:
        rendered, problem = render_preview(_sample_campaign(Layout(name=name, html=html)))
    db.session.rollback()
    return jsonify(
        ok=rendered is not None,
        html=rendered.html if rendered else "",
        problems=problems,
        error=problem or "",
    )


@bp.post("/layouts/<public_id>/copy")
def layout_copy(public_id: str):
    """An editable copy of a layout."""
    layout = _by_public_id(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    copy = layout_service.copy_layout(layout)
    db.session.commit()
    flash(gettext("Copied. You are editing “%(name)s”.", name=copy.name), "success")
    return redirect(url_for("admin.layout_edit", public_id=copy.public_id))


@bp.post("/layouts/<public_id>/delete")
def layout_delete(public_id: str):
    """Delete a layout no campaign uses."""
    layout = _by_public_id(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        layout_service.delete_layout(layout)
    except layout_service.LayoutError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return redirect(url_for("admin.layout_show", public_id=public_id))
    db.session.commit()
    flash(gettext("Layout deleted."), "success")
    return redirect(url_for("admin.layouts"))
