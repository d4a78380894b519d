"""A campaign's A/B test: settings and variants (drafts), its results, and the manual pick of the winner."""

from typing import cast

from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from mailer import audit
from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import AbSettingsForm, AbVariantContentForm, AbVariantForm, ActionForm
from mailer.admin.campaigns import (
    EDITOR_CSP,
    campaign_by_public_id,
    preview_document,
    render_preview,
)
from mailer.campaigns import ab_testing, drafts
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.campaigns.rendering import CampaignError
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.staff.models.accounts import StaffUser


def results(campaign: Campaign) -> dict | None:
    """What the campaign page shows of its A/B test (None: it has none)."""
    test = campaign.ab_test
    if test is None:
        return None
    stats = ab_testing.variant_stats(campaign) if test.sample_planned_at else []
    decider = db.session.get(StaffUser, test.decided_by_id) if test.decided_by_id else None
    # A decision stores the variants' names as they were then (English defaults): shown in the reader's words.
    titles = {ab_testing.variant_name(v): ab_testing.variant_title(v) for v in campaign.ab_variants}
    return {
        "test": test,
        "variants": [ab_testing.VariantView(campaign, variant) for variant in campaign.ab_variants],
        "names": {variant.position: ab_testing.variant_title(variant) for variant in campaign.ab_variants},
        "shown": lambda names: [titles.get(name, name) for name in names],
        "stats": stats,
        "live": ab_testing.judge(stats) if stats else None,
        "decision": test.decision or {},
        "decider": decider.email if decider else "",
        "can_pick": test.winner is None
        and test.sample_planned_at is not None
        and campaign.status in (CampaignStatus.SENDING, CampaignStatus.PAUSED),
        "min_consenting": ab_testing.MIN_CONSENTING,
        "letter": ab_testing.letter,
    }


def _page(campaign: Campaign, status: int = 200, settings: AbSettingsForm | None = None, forms=None):
    test = campaign.ab_test
    if settings is None:
        settings = AbSettingsForm(
            data={
                "enabled": test is not None,
                "test_percent": test.test_percent if test else 20,
                "wait_minutes": test.wait_minutes if test else 240,
                "criterion": test.criterion if test else "clicks",
            }
        )
    forms = forms or {}
    variant_forms = [
        forms.get(v.position)
        or AbVariantForm(
            prefix=f"v{v.position}",
            data={
                "label": v.label,
                "subject": v.subject,
                "from_name": v.from_name,
                "body_format": v.body_format if v.body_format in ("markdown", "html") else "html",
                "body": v.body,
                "text_body": v.text_body,
            },
        )
        for v in campaign.ab_variants
    ]
    return render_template(
        "admin/campaigns/ab_test.html",
        campaign=campaign,
        settings=settings,
        variants=list(zip(campaign.ab_variants, variant_forms, strict=True)),
        letter=ab_testing.letter,
        action_form=ActionForm(),
        limits=ab_testing,
    ), status


def _draft(public_id: str) -> Campaign:
    campaign = campaign_by_public_id(public_id)
    if campaign.status != CampaignStatus.DRAFT:
        flash(
            gettext("Only a draft's A/B test can be changed; its results are on the campaign page."),
            "warning",
        )
        abort(redirect(url_for("admin.campaign_show", public_id=public_id)))
    return campaign


def _back(campaign: Campaign, anchor: str = ""):
    return redirect(url_for("admin.campaign_ab_test", public_id=campaign.public_id) + anchor)


@bp.route("/campaigns/<public_id>/ab-test", methods=["GET", "POST"])
def campaign_ab_test(public_id: str):
    """Turn the A/B test on or off and set its test share, wait and criterion (drafts)."""
    campaign = _draft(public_id)
    if request.method == "GET":
        return _page(campaign)
    form = AbSettingsForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(campaign, 400, settings=form)
    try:
        ab_testing.configure(
            campaign,
            enabled=form.enabled.data,
            test_percent=form.test_percent.data if form.test_percent.data is not None else 20,
            wait_minutes=form.wait_minutes.data if form.wait_minutes.data is not None else 240,
            criterion=form.criterion.data,
        )
    except CampaignError as exc:
        db.session.rollback()
        form.problem = shown(exc)
        return _page(campaign_by_public_id(public_id), 400, settings=form)
    db.session.commit()
    flash(gettext("A/B test saved.") if form.enabled.data else gettext("A/B test turned off."), "success")
    return _back(campaign)


def _variant_change(public_id: str, change) -> Response:
    """Add or remove a variant (CSRF-checked); change(campaign) returns the message and the anchor."""
    campaign = _draft(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        done, anchor = change(campaign)
    except CampaignError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return _back(campaign)
    db.session.commit()
    flash(done, "success")
    return _back(campaign, anchor)


@bp.post("/campaigns/<public_id>/ab-test/variants")
def campaign_ab_variant_add(public_id: str):
    """Add a variant (at most four)."""

    def add(campaign: Campaign) -> tuple[str, str]:
        variant = ab_testing.add_variant(campaign)
        added = gettext("%(variant)s added.", variant=ab_testing.variant_title(variant))
        return added, f"#variant-{ab_testing.letter(variant.position)}"

    return _variant_change(public_id, add)


@bp.post("/campaigns/<public_id>/ab-test/variants/<int:position>/delete")
def campaign_ab_variant_delete(public_id: str, position: int):
    """Remove a variant (two stay at least)."""

    def remove(campaign: Campaign) -> tuple[str, str]:
        ab_testing.remove_variant(campaign, position)
        letter = ab_testing.letter(position)
        return gettext("Variant %(letter)s removed; the later variants moved up a letter.", letter=letter), ""

    return _variant_change(public_id, remove)


@bp.post("/campaigns/<public_id>/ab-test/variants/<int:position>")
def campaign_ab_variant_save(public_id: str, position: int):
    """Save one variant's label, subject, sender name and content."""
    campaign = _draft(public_id)
    if not 0 <= position < len(campaign.ab_variants):
        abort(404)
    form = AbVariantForm(prefix=f"v{position}")
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(campaign, 400, forms={position: form})
    fields = {"label": form.label.data, "subject": form.subject.data, "from_name": form.from_name.data}
    if campaign.body_format != "visual":  # a visual campaign's variants get their content on their own page
        fields |= {"body_format": form.body_format.data, "body": form.body.data}
        fields["text_body"] = form.text_body.data
    try:
        ab_testing.update_variant(campaign, position, **fields)
    except CampaignError as exc:
        db.session.rollback()
        form.problem = shown(exc)
        return _page(campaign_by_public_id(public_id), 400, forms={position: form})
    db.session.commit()
    flash(gettext("Variant %(letter)s saved.", letter=ab_testing.letter(position)), "success")
    return _back(campaign, f"#variant-{ab_testing.letter(position)}")


@bp.post("/campaigns/<public_id>/ab-test/winner")
def campaign_ab_winner(public_id: str):
    """A person picks the winner; the rest of the audience then gets it. Audited."""
    campaign = campaign_by_public_id(public_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        position = int(request.form.get("position", ""))
        if not 0 <= position < ab_testing.MAX_VARIANTS:
            raise ValueError
    except ValueError:
        flash(gettext("Choose one of the variants as the winner."), "danger")
        return redirect(url_for("admin.campaign_show", public_id=public_id) + "#ab-test")
    try:
        ab_testing.pick_winner(campaign, position, current_user.id)
    except CampaignError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
    else:
        audit.record(
            "campaign.ab_winner",
            "campaign",
            campaign.public_id,
            {"winner": ab_testing.letter(position)},
            actor=current_user,
            ip=request.remote_addr,
        )
        db.session.commit()
        flash(
            gettext(
                "Variant %(letter)s is the winner; the rest of the audience gets it now.",
                letter=ab_testing.letter(position),
            ),
            "success",
        )
    return redirect(url_for("admin.campaign_show", public_id=public_id) + "#ab-test")


def _view(campaign: Campaign, position: int) -> ab_testing.VariantView:
    try:
        return ab_testing.view_of(campaign, position)
    except CampaignError:
        abort(404)


@bp.route("/campaigns/<public_id>/ab-test/variants/<int:position>/content", methods=["GET", "POST"])
def campaign_ab_variant_content(public_id: str, position: int):
    """One variant's content in the visual editor (or as HTML / Markdown); it starts as the campaign's own
    design, and an emptied body sends the campaign's own content again."""
    campaign = _draft(public_id)
    view = _view(campaign, position)
    variant = view.variant
    if request.method == "GET":
        own = bool((variant.body or "").strip())
        form = AbVariantContentForm(
            data={
                "body_format": view.body_format,
                "body": view.body,
                "body_project": variant.body_project if own else campaign.body_project,
                "text_body": view.text_body,
            }
        )
        status = 200
    else:
        form = AbVariantContentForm()
        status = 400
        if form.validate_on_submit():
            try:
                ab_testing.set_variant_content(
                    campaign,
                    position,
                    body_format=form.body_format.data or "visual",
                    body=form.body.data or "",
                    body_project=form.body_project.data or "",
                    text_body=form.text_body.data or "",
                )
            except CampaignError as exc:
                db.session.rollback()
                form.problem = shown(exc)
            else:
                db.session.commit()
                name = ab_testing.variant_title(variant)
                flash(gettext("The content of %(variant)s was saved.", variant=name), "success")
                return _back(campaign, f"#variant-{ab_testing.letter(position)}")
        elif form.csrf_token.errors:
            abort(400)
    body = render_template(
        "admin/campaigns/ab_variant_content.html",
        campaign=campaign,
        variant=variant,
        name=ab_testing.variant_title(variant),
        letter=ab_testing.letter(position),
        form=form,
    )
    response = make_response(body, status)
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    return response


@bp.get("/campaigns/<public_id>/ab-test/variants/<int:position>/preview")
def campaign_ab_variant_preview(public_id: str, position: int):
    """A variant as a chosen contact (or a sample one) would receive it: desktop, phone and text part."""
    campaign = campaign_by_public_id(public_id)
    view = _view(campaign, position)
    query = request.args.get("contact", "")[:320]
    contact = drafts.find_preview_contact(query)
    rendered, problem = render_preview(cast(Campaign, view), contact)
    db.session.rollback()
    body = render_template(
        "admin/campaigns/preview.html",
        campaign=view,
        rendered=rendered,
        problem=problem,
        query=query,
        contact=contact,
        variant_name=ab_testing.variant_title(view.variant),
        doc=url_for(
            "admin.campaign_ab_variant_preview_document",
            public_id=public_id,
            position=position,
            contact=query or None,
        ),
    )
    response = make_response(body, 200)
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    return response


@bp.get("/campaigns/<public_id>/ab-test/variants/<int:position>/preview.html")
def campaign_ab_variant_preview_document(public_id: str, position: int):
    """The variant's rendered email itself, for the preview iframes (sandboxed: no scripts run)."""
    view = _view(campaign_by_public_id(public_id), position)
    contact = drafts.find_preview_contact(request.args.get("contact", "")[:320])
    return preview_document(cast(Campaign, view), contact)
