"""Looking at a campaign before it goes, as the admin does: its preview as a chosen contact (or a sample one),
for the campaign or one of its A/B variants, and the send page's check (who would receive it now, who is
excluded and why, what sending still needs). Both use the admin's own services (drafts.render_preview,
lifecycle.compliance_preview with eligibility's reasons, drafts.readiness); nothing of a preview is stored."""

from datetime import datetime
from typing import cast

from marshmallow import Schema, fields, validate

from mailer.api.campaigns import campaign_or_404
from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text, public_id, timestamp
from mailer.api.inputs import invalid
from mailer.api.routing import api_route
from mailer.api.schemas import one_of
from mailer.api.serializers import iso
from mailer.campaigns import ab_testing, drafts, eligibility
from mailer.campaigns import lifecycle as campaign_service
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.campaigns.rendering import CampaignError
from mailer.core.extensions import db

REASONS = tuple(reason for reason in eligibility.REASONS if reason)


class PreviewQuery(RequestSchema):
    contact = Text(
        max_length=320,
        metadata={
            "description": "Preview as this contact: public id (or address). Left out: a sample contact."
        },
    )
    variant = Text(
        validate=validate.OneOf(list(ab_testing.LETTERS), error="must be A, B, C or D"),
        metadata={"description": "An A/B test's variant, by letter; left out: the campaign itself."},
    )


class CheckQuery(RequestSchema):
    again = Text(
        load_default="false",
        validate=validate.OneOf(["true", "false"], error="must be true or false"),
        metadata={
            "description": "`true`: count again even while the stored count still holds (Count again)."
        },
    )


class PreviewSchema(Schema):
    subject = fields.String(metadata={"description": "The subject line with its merge fields filled in."})
    html = fields.String(metadata={"description": "The HTML part as the contact gets it (links untracked)."})
    text = fields.String(metadata={"description": "The text part."})
    preheader = fields.String()
    from_name = fields.String()
    from_email = fields.String()
    contact_id = public_id(
        allow_none=True, metadata={"description": "The contact previewed as; null: a sample."}
    )
    variant = fields.String(allow_none=True, metadata={"description": "The A/B variant's letter, or null."})


class ExclusionSchema(Schema):
    reason = one_of(REASONS)
    count = fields.Integer(metadata={"description": "Contacts excluded for this reason (each counted once)."})
    explanation = fields.String(
        metadata={"description": "What the reason means, as the admin's page says it."}
    )


class ReadinessSchema(Schema):
    ok = fields.Boolean()
    message = fields.String()


class SendCheckSchema(Schema):
    campaign_status = fields.String()
    count = one_of(
        ("counted", "counting", "not_counted"),
        metadata={
            "description": "counted: the numbers below; counting: a large audience is counted in the "
            "background (ask again); not_counted: nothing to count (no list or segment chosen)."
        },
    )
    recipients = fields.Integer(
        allow_none=True, metadata={"description": "Who would receive it now (null until counted)."}
    )
    excluded = fields.List(
        fields.Nested(ExclusionSchema),
        metadata={
            "description": "Everyone on its lists who is left out, by reason (every reason, 0 included)."
        },
    )
    excluded_total = fields.Integer(allow_none=True)
    counted_at = timestamp("When the numbers were counted (they are kept while nothing they count changed).")
    counting_percent = fields.Integer(
        allow_none=True, metadata={"description": "counting: how much of the background count is done."}
    )
    checks = fields.List(
        fields.Nested(ReadinessSchema),
        metadata={"description": "What sending needs (postal address, a complete layout, an audience)."},
    )
    ready = fields.Boolean(
        metadata={
            "description": "A draft whose checks pass and that has recipients; POST …/send still checks "
            "everything again, and each recipient when their message goes."
        }
    )


@api_route(
    "/campaigns/<public_id>/preview",
    query=PreviewQuery,
    responses={200: PreviewSchema},
    errors={409: "The campaign can't be rendered (a merge field or the layout fails: the message says why)."},
    operation_id="previewCampaign",
)
def campaign_preview(public_id: str, query: dict):
    """A campaign's email as a contact would get it

    As the admin's "Preview as": the subject after merge fields, the HTML and text parts, for a chosen
    contact (by public id or address; erased contacts are never shown) or a sample contact, for the
    campaign or one of its A/B variants. Nothing is stored or sent.
    """
    campaign = campaign_or_404(public_id)
    source: Campaign = campaign
    if "variant" in query:
        try:
            source = cast(Campaign, ab_testing.view_of(campaign, ab_testing.LETTERS.index(query["variant"])))
        except CampaignError as exc:
            raise invalid("variant", str(exc)) from None
    contact = drafts.find_preview_contact(query.get("contact", ""))
    if query.get("contact", "").strip() and contact is None:
        raise invalid("contact", "There is no contact with this id or address (or it was erased).")
    contact_id = contact.public_id if contact is not None else None
    sender = (source.preheader or "", source.from_name or "", source.from_email or "")
    rendered, problem = drafts.render_preview(source, contact)
    db.session.rollback()  # nothing from a preview is ever stored
    if rendered is None:
        raise ApiError(409, problem)
    return {
        "subject": rendered.subject,
        "html": rendered.html,
        "text": rendered.text,
        "preheader": sender[0],
        "from_name": sender[1],
        "from_email": sender[2],
        "contact_id": contact_id,
        "variant": query.get("variant"),
    }


@api_route(
    "/campaigns/<public_id>/send-check",
    query=CheckQuery,
    responses={200: SendCheckSchema},
    operation_id="checkCampaignSend",
)
def campaign_send_check(public_id: str, query: dict):
    """Who would receive a campaign now, and who is excluded and why

    What the admin's send page shows before sending: the recipients by the eligibility rule (the same
    count sending stores), everyone on its lists who is left out by reason (never confirmed, unsubscribed,
    no consent to the list's purpose, in an excluded list, objected, suppressed, bounced, restricted,
    erased), and the checks sending needs. A draft is counted now (a large audience in the background:
    `count` is then `counting`, ask again); any other campaign shows the count taken when it was sent.
    """
    campaign = campaign_or_404(public_id)
    compliance: dict = campaign.compliance or {}
    if campaign.status == CampaignStatus.DRAFT:
        try:
            compliance = campaign_service.compliance_preview(
                campaign, for_page=True, again=query["again"] == "true"
            )
            db.session.commit()
        except campaign_service.CampaignError:
            db.session.rollback()  # no list or segment: the checks say so
            compliance = {}
    checks = [{"ok": ok, "message": message} for ok, message in drafts.readiness(campaign)]
    excluded = compliance.get("excluded") if "recipients" in compliance else None
    recipients = compliance.get("recipients") if excluded is not None else None
    counting = compliance.get("counting")
    return {
        "campaign_status": campaign.status,
        "count": "counted" if excluded is not None else "counting" if counting else "not_counted",
        "recipients": recipients,
        "excluded": [
            {
                "reason": reason,
                "count": int(excluded.get(reason, 0)),
                "explanation": str(eligibility.REASON_LABELS.get(reason, reason)),
            }
            for reason in REASONS
        ]
        if excluded is not None
        else [],
        "excluded_total": sum(excluded.values()) if excluded is not None else None,
        "counted_at": iso(datetime.fromisoformat(compliance["computed_at"]))
        if compliance.get("computed_at")
        else None,
        "counting_percent": counting.get("done") if counting else None,
        "checks": checks,
        "ready": campaign.status == CampaignStatus.DRAFT
        and all(item["ok"] for item in checks)
        and bool(recipients),
    }
