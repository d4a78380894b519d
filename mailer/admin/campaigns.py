"""Campaigns: the index, the editor and its previews (live JSON, a page without JavaScript, the iframe)."""

from flask import abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import format_number, gettext
from flask_login import current_user
from sqlalchemy import select

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import ActionForm, CampaignForm
from mailer.admin.language import campaign_status_name
from mailer.campaigns import drafts as drafts
from mailer.campaigns import gallery, merge_tags, rendering, versions
from mailer.campaigns import layouts as layout_service
from mailer.campaigns.drafts import render_preview
from mailer.campaigns.models import (
    CAMPAIGN_STATUSES,
    JOURNEY_STEP_STATUS,
    Campaign,
    CampaignStatus,
    CampaignTemplate,
)
from mailer.core import counters
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.core.web import BASE_CSP
from mailer.delivery.relays import all_relays
from mailer.segments.operations import all_segments
from mailer.subscriptions.lists import all_lists, list_counts

# The editor and preview pages show marketers' own remote images; scripts stay 'self' only.
EDITOR_CSP = (
    BASE_CSP.replace("img-src 'self' data:", "img-src 'self' data: https: http:") + "; frame-ancestors 'none'"
)
# The rendered email inside an iframe: no scripts, no forms, no plugins, framed only by our own pages.
PREVIEW_DOCUMENT_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "img-src https: http: data:; style-src 'unsafe-inline'; font-src https: data:; "
    "frame-ancestors 'self'"
)
STATUS_FILTERS = CAMPAIGN_STATUSES


def campaign_by_public_id(public_id: str) -> Campaign:
    """The campaign named in the URL, or 404."""
    return db.one_or_404(select(Campaign).where(Campaign.public_id == public_id[:32]))


def template_by_public_id(public_id: str) -> CampaignTemplate:
    """The saved template named in the URL, or 404."""
    return db.one_or_404(select(CampaignTemplate).where(CampaignTemplate.public_id == public_id[:32]))


def prefill_from_request() -> drafts.DraftFields | None:
    """A new campaign's fields when it starts from the gallery (?starter=key&format=… or ?template=id)."""
    if request.method != "GET":
        return None
    if key := request.args.get("starter", ""):
        item = gallery.starter(key[:40]) or abort(404)
        return gallery.starter_fields(item, request.args.get("format", "visual")[:10])
    if public_id := request.args.get("template", ""):
        return gallery.template_fields(template_by_public_id(public_id))
    return None


def _with_csp(response, policy: str):
    response.headers["Content-Security-Policy"] = policy
    return response


def _list_choice(name: str, confirmed: int, archived: bool) -> str:
    """A list as the editor offers it: its name, confirmed members, and whether it is archived."""
    count = format_number(confirmed)
    if archived:
        return gettext("%(name)s · %(count)s confirmed · archived", name=name, count=count)
    return gettext("%(name)s · %(count)s confirmed", name=name, count=count)


def editor_form(campaign: Campaign | None) -> CampaignForm:
    """The editor form with its choices filled in (lists, layouts, time zones)."""
    if campaign is not None and request.method == "GET":
        wtform = CampaignForm(
            data=vars(drafts.draft_from_campaign(campaign))
            | {
                "lists": [lst.id for lst in campaign.lists],
                "exclusion_lists": [lst.id for lst in campaign.exclusion_lists],
                "segments": [segment.id for segment in campaign.segments],
            }
        )
    else:
        from_name, from_email = drafts.default_sender()
        default = layout_service.default_layout()
        data = {
            "from_name": from_name,
            "from_email": from_email,
            "timezone": "UTC",
            "layout_id": default.id if default else None,
            "body": DEFAULT_BODY,
            "body_format": "markdown",
        }
        if (start := prefill_from_request()) is not None:
            data |= {key: getattr(start, key) for key in PREFILLED}
            data["layout_id"] = start.layout_id or data["layout_id"]
        wtform = CampaignForm(data=data)
    # An archived list can't be chosen to send to (one a draft already had stays visible, marked, to untick).
    chosen = {lst.id for lst in campaign.lists} if campaign is not None else set()
    every, counts = all_lists(), list_counts()
    wtform.lists.choices = [
        (
            lst.id,
            _list_choice(
                lst.name, counts.get(lst.id, {}).get("confirmed", 0), archived=lst.archived_at is not None
            ),
        )
        for lst in every
        if lst.archived_at is None or lst.id in chosen
    ]
    wtform.exclusion_lists.choices = [(lst.id, lst.name) for lst in every]
    wtform.segments.choices = [(segment.id, segment.name) for segment in all_segments()]
    wtform.layout_id.choices = [
        (lay.id, lay.name if lay.verified else gettext("%(name)s (missing footer parts)", name=lay.name))
        for lay in layout_service.all_layouts()
    ]
    wtform.timezone.choices = [(name, name.replace("_", " ")) for name in drafts.time_zone_names()]
    named = [(relay.id, f"{relay.name} ({relay.host})") for relay in all_relays()]
    wtform.relay_id.choices = [("", gettext("The default relay (SMTP_URL)")), *named]
    wtform.failover_relay_id.choices = [("", gettext("No failover: wait for the relay to come back")), *named]
    return wtform


# What a gallery template brings to a new campaign (the audience, sender and schedule are the marketer's).
PREFILLED = ("name", "subject", "preheader", "body_format", "body", "body_project", "text_body")
DEFAULT_BODY = """# Hello {{ contact.first_name | default("there") }},

Write your news here. **Markdown** works: headings, lists, [links](https://www.example.com) and images.

- One thing worth knowing
- Another one

Thanks for reading!
"""


def _editor(campaign: Campaign | None):
    """Shared create/edit handler: save the draft, then go to its page (or its preview)."""
    if campaign is not None and campaign.status != CampaignStatus.DRAFT:
        flash(
            gettext(
                "This campaign is %(status)s; only drafts can be edited. Make a copy to change it.",
                status=campaign_status_name(campaign.status),
            ),
            "warning",
        )
        return redirect(url_for("admin.campaign_show", public_id=campaign.public_id))
    layout_service.ensure_builtin_layouts()
    wtform = editor_form(campaign)
    errors: dict[str, str] = {}
    if wtform.validate_on_submit():
        try:
            if campaign is None:
                saved = drafts.create_draft(wtform.to_fields(), current_user.id)
            else:
                saved = versions.save(campaign, wtform.to_fields(), current_user.id)
        except drafts.DraftError as exc:
            db.session.rollback()
            errors = {key: shown(message) for key, message in exc.errors.items()}
        else:
            db.session.commit()
            flash(gettext("Draft saved."), "success")
            if request.form.get("then") == "preview":
                return redirect(url_for("admin.campaign_preview", public_id=saved.public_id))
            return redirect(url_for("admin.campaign_show", public_id=saved.public_id))
    else:
        db.session.commit()  # built-in layouts created for a first visit
    mapping = {"list_ids": "lists", "exclusion_list_ids": "exclusion_lists"}
    for key, message in errors.items():
        target = getattr(wtform, mapping.get(key, key), None)
        if target is not None:
            target.errors = [*target.errors, message]
        else:
            flash(message, "danger")
    status = 400 if request.method == "POST" else 200
    response = render_template(
        "admin/campaigns/edit.html",
        wtform=wtform,
        campaign=campaign,
        error_count=sum(len(f.errors) for f in wtform),
        versions=versions.versions(campaign) if campaign is not None else [],
        action_form=ActionForm(),
        merge_tags=merge_tags.picker_tags(),
    )
    return _with_csp(make_response(response, status), EDITOR_CSP)


@bp.get("/campaigns")
def campaigns():
    """Every campaign, newest first, with delivery counts; filter by status."""
    status = request.args.get("status", "")
    query = (
        select(Campaign)
        .where(Campaign.status != JOURNEY_STEP_STATUS)  # a journey's steps are shown on its own page
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
    )
    if status in STATUS_FILTERS:
        query = query.where(Campaign.status == status)
    items = db.session.execute(query.limit(200)).scalars().all()
    sent: dict[int, dict[str, int]] = {}
    shown = {c.id for c in items}
    for (campaign_id, delivery_status), n in counters.totals("delivery_counts").items():
        if campaign_id in shown:
            sent.setdefault(campaign_id, {})[delivery_status] = n
    return render_template(
        "admin/campaigns/index.html",
        campaigns=items,
        deliveries=sent,
        status=status,
        counts=drafts.status_counts(),
        filters=STATUS_FILTERS,
    )


@bp.route("/campaigns/new", methods=["GET", "POST"])
def campaign_new():
    """Compose a new campaign."""
    return _editor(None)


@bp.route("/campaigns/<public_id>/edit", methods=["GET", "POST"])
def campaign_edit(public_id: str):
    """Change a draft."""
    return _editor(campaign_by_public_id(public_id))


@bp.post("/campaigns/preview.json")
@bp.post("/campaigns/<public_id>/preview.json")
def campaign_preview_json(public_id: str | None = None):
    """The editor's fields rendered as the email (subject, HTML, text), for the live preview as one types."""
    campaign = campaign_by_public_id(public_id) if public_id else None
    wtform = editor_form(campaign)
    wtform.validate()  # parse only: a half-typed draft still previews; CSRF was checked before the view
    preview = drafts.preview_campaign(wtform.to_fields(), campaign)
    preview.lists = drafts.lists_by_id(wtform.to_fields().list_ids)
    if preview.layout is None:
        return jsonify(ok=False, error=gettext("Choose a layout to see the preview.")), 200
    query = request.form.get("preview_contact", "")[:320]
    contact = drafts.find_preview_contact(query)
    rendered, problem = render_preview(preview, contact)
    db.session.rollback()  # nothing from a preview is ever stored
    if rendered is None:
        return jsonify(ok=False, error=problem)
    return jsonify(
        ok=True,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        preheader=preview.preheader,
        sender=(f"{preview.from_name} <{preview.from_email}>" if preview.from_name else preview.from_email),
        contact=(contact.email if contact else gettext("a sample contact")),
        contact_missing=bool(query.strip()) and contact is None,
    )


@bp.post("/campaigns/body-html.json")
def campaign_body_html():
    """The Markdown body as HTML, merge fields kept: switching the editor from Markdown to HTML or Visual."""
    return jsonify(html=rendering.markdown_to_html(request.form.get("body", "")[: drafts.MAX_BODY]))


@bp.get("/campaigns/<public_id>/preview")
def campaign_preview(public_id: str):
    """The saved campaign at desktop and phone widths and its text part; works without JavaScript."""
    campaign = campaign_by_public_id(public_id)
    query = request.args.get("contact", "")[:320]
    contact = drafts.find_preview_contact(query)
    rendered, problem = render_preview(campaign, contact)
    db.session.rollback()
    body = render_template(
        "admin/campaigns/preview.html",
        campaign=campaign,
        rendered=rendered,
        problem=problem,
        query=query,
        contact=contact,
    )
    return _with_csp(make_response(body, 200), EDITOR_CSP)


@bp.get("/campaigns/<public_id>/preview.html")
def campaign_preview_document(public_id: str):
    """The rendered email itself, for the preview iframes (sandboxed: no scripts run)."""
    campaign = campaign_by_public_id(public_id)
    return preview_document(campaign, drafts.find_preview_contact(request.args.get("contact", "")))


def preview_document(campaign: Campaign, contact=None):
    """The email (or what stops it rendering) as a sandboxed document for an iframe; nothing is stored."""
    rendered, problem = render_preview(campaign, contact)
    db.session.rollback()
    body = (
        rendered.html
        if rendered
        else render_template("admin/campaigns/preview_problem.html", problem=problem)
    )
    response = make_response(body, 200)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return _with_csp(response, PREVIEW_DOCUMENT_CSP)


@bp.post("/campaigns/<public_id>/copy")
def campaign_copy(public_id: str):
    """A new draft with this campaign's content and audience."""
    campaign = campaign_by_public_id(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    copy = drafts.duplicate_campaign(campaign, current_user.id)
    db.session.commit()
    flash(gettext("Copied into a new draft “%(name)s”.", name=copy.name), "success")
    return redirect(url_for("admin.campaign_edit", public_id=copy.public_id))


@bp.post("/campaigns/<public_id>/delete")
def campaign_delete(public_id: str):
    """Delete a draft that never sent."""
    campaign = campaign_by_public_id(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        drafts.delete_draft(campaign)
    except drafts.DraftError as exc:
        flash(shown(exc), "danger")
        return redirect(url_for("admin.campaign_show", public_id=public_id))
    db.session.commit()
    flash(gettext("Draft deleted."), "success")
    return redirect(url_for("admin.campaigns"))
