"""What the API returns, as marshmallow schemas: each answer is dumped through one, and the OpenAPI document
is generated from them (component names are the class names less "Schema")."""

from marshmallow import Schema, fields, validate

from mailer.api.fields import page_of, public_id, timestamp
from mailer.campaigns.models import CAMPAIGN_STATUSES
from mailer.consent.models import PURPOSE_KINDS
from mailer.contacts.models.contact import CONTACT_STATUSES
from mailer.contacts.models.fields import FIELD_CATEGORIES
from mailer.delivery.models import DELIVERY_STATUSES
from mailer.subscriptions.models.lists import SUBSCRIPTION_STATUSES

CONSENT_STATUSES = ("pending", "granted", "withdrawn", "objected", "expired")
SCALAR = {"type": ["string", "number", "boolean"]}


def one_of(values, **kwargs) -> fields.String:
    """A string from a fixed set (documented as an enum)."""
    return fields.String(validate=validate.OneOf([str(value) for value in values]), **kwargs)


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "What went wrong, in words for a person."})
    detail = fields.Raw(
        required=True,
        allow_none=True,
        metadata={
            "type": ["object", "array", "string", "number", "boolean"],
            "description": 'Specifics, e.g. a message per field (`{"email": "…"}`), or null.',
        },
    )


class SubscriberCountsSchema(Schema):
    pending = fields.Integer()
    confirmed = fields.Integer()
    unsubscribed = fields.Integer()


class ListSchema(Schema):
    id = public_id()
    name = fields.String()
    description = fields.String()
    visibility = one_of(("public", "private"))
    created_at = timestamp()
    archived_at = timestamp("When the list was archived; null while it is active.")
    subscribers = fields.Nested(SubscriberCountsSchema)


class PurposeSchema(Schema):
    id = public_id()
    key = fields.String()
    name = fields.String()
    kind = one_of(PURPOSE_KINDS)
    list_id = fields.String(allow_none=True)


class ListRefSchema(Schema):
    id = public_id()
    name = fields.String()


class SubscriptionSchema(Schema):
    list = fields.Nested(ListRefSchema)
    status = one_of(SUBSCRIPTION_STATUSES)
    source = fields.String(allow_none=True)
    requested_at = timestamp()
    confirmed_at = timestamp()
    unsubscribed_at = timestamp()


class ConsentStateSchema(Schema):
    purpose = fields.Nested(PurposeSchema, allow_none=True)
    status = one_of(CONSENT_STATUSES)
    since = timestamp()


class FieldValueSchema(Schema):
    key = fields.String()
    label = fields.String()
    category = one_of(FIELD_CATEGORIES)
    value = fields.String(metadata={"description": "Sensitive values are always masked, e.g. `•••• 4242`."})
    masked = fields.Boolean()


class MembershipSchema(Schema):
    id = public_id()
    status = one_of(SUBSCRIPTION_STATUSES)


class ContactSummarySchema(Schema):
    id = public_id()
    email = fields.String(allow_none=True, metadata={"description": "null once the contact was erased"})
    name = fields.String(allow_none=True)
    status = one_of(CONTACT_STATUSES)
    source = fields.String(allow_none=True)
    created_at = timestamp()
    last_activity_at = timestamp()
    lists = fields.List(fields.Nested(MembershipSchema))
    tags = fields.List(fields.String(), metadata={"description": "The contact's tags, by name."})


class ContactSchema(Schema):
    id = public_id()
    email = fields.String(allow_none=True, metadata={"description": "null once the contact was erased"})
    name = fields.String(allow_none=True)
    status = one_of(CONTACT_STATUSES)
    attributes = fields.Dict(keys=fields.String(), values=fields.Raw(metadata=SCALAR))
    field_values = fields.List(fields.Nested(FieldValueSchema), data_key="fields", attribute="fields")
    source = fields.String(allow_none=True)
    created_at = timestamp()
    last_activity_at = timestamp()
    subscriptions = fields.List(fields.Nested(SubscriptionSchema))
    consent = fields.List(fields.Nested(ConsentStateSchema))
    tags = fields.List(fields.String(), metadata={"description": "The contact's tags, by name."})


class ContactChangedSchema(ContactSchema):
    changed = fields.List(fields.String(), metadata={"description": "What the PATCH changed."})


class NoticeSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    content_hash = fields.String()
    content = fields.Raw(metadata={"type": "object", "description": "The exact words the person was shown."})


class ConsentEventSchema(Schema):
    id = fields.String(metadata={"description": "The event's hash in the ledger chain."})
    action = fields.String()
    purpose = fields.Nested(PurposeSchema, allow_none=True)
    source = fields.String()
    notice = fields.Nested(NoticeSchema, allow_none=True)
    email = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    details = fields.Dict()
    created_at = timestamp()
    prev_hash = fields.String(allow_none=True)


class ReasonCountSchema(Schema):
    reason = fields.String(required=True)
    count = fields.Integer(required=True, validate=validate.Range(min=1))


class DeliveryStateSchema(Schema):
    count = fields.Integer(required=True, validate=validate.Range(min=0))
    reasons = fields.List(
        fields.Nested(ReasonCountSchema),
        required=True,
        metadata={
            "description": "The most common reasons, most frequent first; times and addresses are replaced "
            '("will retry at …: 451 4.3.0 …").'
        },
    )
    other_reasons = fields.Integer(
        required=True,
        validate=validate.Range(min=0),
        metadata={"description": "Deliveries in this state whose reason is not among the listed ones."},
    )


DeliveryStatesSchema = Schema.from_dict(
    {str(state): fields.Nested(DeliveryStateSchema) for state in DELIVERY_STATUSES}, name="DeliveryStates"
)


class CampaignSchema(Schema):
    id = public_id()
    name = fields.String()
    subject = fields.String()
    category = fields.String()
    status = one_of(CAMPAIGN_STATUSES)
    status_reason = fields.String()
    waiting_reason = fields.String(
        metadata={
            "description": "Set while a sending campaign waits for the relay, e.g. "
            '"Waiting for the relay: connection refused. Next try at 14:05:00 UTC."; empty otherwise.'
        }
    )
    waiting_until = timestamp("When the next try at the relay is due (null when not waiting).")
    lists = fields.List(fields.String())
    scheduled_at = timestamp()
    started_at = timestamp()
    finished_at = timestamp()
    created_at = timestamp()
    progress = fields.Dict(
        metadata={
            "description": "Only on GET /campaigns/{public_id}: delivery counts by status, remaining, "
            "rate_per_s and eta_s."
        }
    )
    deliveries = fields.Nested(
        DeliveryStatesSchema,
        metadata={
            "description": "Only on GET /campaigns/{public_id}: every delivery state with how many and why."
        },
    )
    ab_test = fields.Nested(
        lambda: AbTestSchema(),
        allow_none=True,
        metadata={"description": "Only on GET /campaigns/{public_id}: its A/B test (null: none)."},
    )


class AbVariantSchema(Schema):
    letter = fields.String(metadata={"description": "A, B, C or D."})
    label = fields.String()
    subject = fields.String(metadata={"description": "As sent: the variant's own, else the campaign's."})
    from_name = fields.String(metadata={"description": "As sent: the variant's own, else the campaign's."})
    own_content = fields.Boolean(metadata={"description": "false: the campaign's own content."})
    sent = fields.Integer(metadata={"description": "Messages of the test share sent."})
    click_consenting = fields.Integer(
        metadata={"description": "The sample size: sent recipients who consent to click tracking."}
    )
    clickers = fields.Integer(metadata={"description": "Unique people among them who clicked (no machines)."})
    click_rate = fields.Float()
    open_consenting = fields.Integer()
    openers = fields.Integer()
    body_format = one_of(
        ("markdown", "html", "visual"),
        metadata={"description": "Only on GET /campaigns/{public_id}/ab-test: the content's format as sent."},
    )
    body = fields.String(
        metadata={"description": "Only on GET /campaigns/{public_id}/ab-test: the content as sent."}
    )
    text_body = fields.String(
        metadata={
            "description": "Only on GET /campaigns/{public_id}/ab-test: the text part (empty: generated)."
        }
    )
    visual_design = fields.Boolean(
        metadata={"description": "Only on GET /campaigns/{public_id}/ab-test: its own visual design is kept."}
    )


class AbLiveSchema(Schema):
    leader = fields.String(metadata={"description": "The letter with the highest click rate so far."})
    z = fields.Float(allow_none=True, metadata={"description": "Two-proportion z against the runner-up."})
    decisive = fields.Boolean(
        metadata={"description": "Every variant has enough consenting recipients and |z| >= 1.96."}
    )
    too_small = fields.List(
        fields.String(), metadata={"description": "Variants with too few recipients consenting to clicks."}
    )
    tie = fields.Boolean()


class AbTestSchema(Schema):
    test_percent = fields.Integer(metadata={"description": "The audience share that gets the variants."})
    wait_minutes = fields.Integer()
    criterion = one_of(("clicks", "manual"))
    seed = fields.Integer(allow_none=True, metadata={"description": "Draws the test share (at the start)."})
    sample_size = fields.Integer()
    decide_at = timestamp("When the winner is chosen by clicks (null before the start).")
    winner = fields.String(allow_none=True, metadata={"description": "The winner's letter, or null."})
    decided_at = timestamp()
    decision = fields.Dict(
        metadata={
            "description": "How it was decided: method (clicks | manual), leader, z, decisive, too_small, "
            "tie, and the figures at that moment."
        }
    )
    variants = fields.List(fields.Nested(AbVariantSchema))
    state = one_of(
        ("draft", "testing", "decided"),
        metadata={
            "description": "draft: not sent yet (editable while the campaign is a draft); testing: the test "
            "share is out and no winner yet; decided: the winner is known."
        },
    )
    live = fields.Nested(
        AbLiveSchema,
        allow_none=True,
        metadata={
            "description": "The figures' verdict now, as the campaign page shows (null before the start)."
        },
    )
    can_pick = fields.Boolean(
        metadata={"description": "A winner can be picked now (POST /campaigns/{public_id}/ab-test/winner)."}
    )
    min_consenting = fields.Integer(
        metadata={"description": "Recipients consenting to click tracking each variant needs to be decisive."}
    )


class UncertainDeliverySchema(Schema):
    id = fields.String(metadata={"description": "The delivery's id, to name it in a resend."})
    contact_id = public_id()
    reason = fields.String(metadata={"description": "Why it is uncertain (addresses removed)."})
    attempts = fields.Integer()
    handed_at = timestamp()


class ResendResultSchema(Schema):
    resent = fields.Integer(
        metadata={
            "description": "How many were uncertain and are queued again (0 when none of those named is "
            "uncertain any more)."
        }
    )
    status = fields.String(
        metadata={"description": "The campaign's status now (a sent campaign is sending again)."}
    )


class SegmentSchema(Schema):
    id = public_id()
    name = fields.String()
    conditions = fields.Dict(metadata={"description": "The AND/OR tree of conditions (see SegmentWrite)."})
    created_at = timestamp()
    updated_at = timestamp()


class ConditionsCountSchema(Schema):
    count = fields.Integer(metadata={"description": "Contacts that match now (erased ones never do)."})
    unseen = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={
            "description": "Per tracking purpose an activity condition uses: contacts it cannot see because "
            "they did not consent to that tracking."
        },
    )


class SegmentCountSchema(ConditionsCountSchema):
    segment_id = public_id()


class SignupAcceptedSchema(Schema):
    status = one_of(("accepted",))
    message = fields.String()


class UnsubscribeResultSchema(Schema):
    contact_id = public_id()
    list_id = public_id()
    status = one_of(SUBSCRIPTION_STATUSES)
    changed = fields.Boolean(metadata={"description": "false when the contact was already unsubscribed"})


ListPageSchema = page_of(ListSchema, "ListPage")
SegmentPageSchema = page_of(SegmentSchema, "SegmentPage")
ContactPageSchema = page_of(ContactSchema, "ContactPage")
ContactSummaryPageSchema = page_of(ContactSummarySchema, "ContactSummaryPage")
ConsentEventPageSchema = page_of(ConsentEventSchema, "ConsentEventPage")
CampaignPageSchema = page_of(CampaignSchema, "CampaignPage")
UncertainDeliveryPageSchema = page_of(UncertainDeliverySchema, "UncertainDeliveryPage")
