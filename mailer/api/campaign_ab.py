"""A campaign's A/B test through the API as in the admin: set it up, change it or remove it on a draft (its
settings and 2-4 variants of subject, sender name and content, visual design included), read its state and
each variant's figures, and pick the winner by hand. Every rule and sentence is mailer.campaigns.ab_testing's
(the admin's own): a refusal because the campaign is no longer a draft (or not running) is a 409, a value the
rules refuse a 422."""

from flask import g, request
from marshmallow import fields, validate

from mailer import audit
from mailer.api.campaigns import campaign_or_404
from mailer.api.errors import ApiError
from mailer.api.fields import Part, RequestSchema, Text
from mailer.api.routing import api_route
from mailer.api.schemas import AbTestSchema
from mailer.api.serializers import ab_test_json
from mailer.campaigns import ab_testing
from mailer.campaigns.models import AbCriterion, Campaign, CampaignStatus
from mailer.campaigns.rendering import CampaignError
from mailer.core.extensions import db

LETTER = "A variant's letter: A, B, C or D."
VARIANTS = f"An A/B test needs {ab_testing.MIN_VARIANTS} to {ab_testing.MAX_VARIANTS} variants."
NOT_A_DRAFT = {409: "The campaign is no longer a draft: only a draft's A/B test can be changed."}


class AbVariantWrite(RequestSchema):
    """One variant; an empty value (or, in PUT's list, one left out) sends the campaign's own."""

    label = Text(
        max_length=1000, metadata={"description": "Its name (60 characters at most); empty: “Variant A” …"}
    )
    subject = Text(max_length=1000, metadata={"description": "Its subject line (merge fields work)."})
    from_name = Text(max_length=1000, metadata={"description": "Its sender name (no address in it)."})
    body_format = Text(
        validate=validate.OneOf(ab_testing.BODY_FORMATS, error="must be markdown, html or visual"),
        metadata={
            "description": "The content's format; visual: `body` is the visual editor's exported HTML."
        },
    )
    body = Text(
        multiline=True,
        max_length=120_000,
        metadata={"description": "Its own content; empty: the campaign's content."},
    )
    body_project = Text(
        multiline=True,
        max_length=130_000,
        metadata={
            "description": "visual: the visual editor's design (its JSON project, as the admin's editor "
            "saves it); kept only while it still exports `body`."
        },
    )
    text_body = Text(
        multiline=True,
        max_length=120_000,
        metadata={"description": "Its text part; empty: made from the content."},
    )


class AbTestWrite(RequestSchema):
    """The test's settings (left out: as they are; for a new test 20 %, 240 minutes, by clicks) and, if given,
    every variant in order (a variant's fields left out: the campaign's own)."""

    test_percent = fields.Integer(
        strict=True,
        metadata={
            "description": f"The audience share that gets the variants ({ab_testing.MIN_PERCENT}-"
            f"{ab_testing.MAX_PERCENT})."
        },
    )
    wait_minutes = fields.Integer(
        strict=True,
        metadata={
            "description": f"Minutes before the winner is chosen by clicks ({ab_testing.MIN_WAIT_MINUTES}-"
            f"{ab_testing.MAX_WAIT_MINUTES})."
        },
    )
    criterion = Text(
        validate=validate.OneOf(tuple(AbCriterion), error="must be clicks or manual"),
        metadata={
            "description": "clicks: the highest click rate among contacts who consented to click tracking, "
            "after the wait; manual: a person picks it (POST …/ab-test/winner)."
        },
    )
    variants = fields.List(
        Part(AbVariantWrite),
        validate=validate.Length(min=ab_testing.MIN_VARIANTS, max=ab_testing.MAX_VARIANTS, error=VARIANTS),
        metadata={"description": "Every variant, A first; left out: the variants stay as they are."},
    )


class WinnerPick(RequestSchema):
    variant = Text(
        required=True,
        validate=validate.OneOf(list(ab_testing.LETTERS), error="must be A, B, C or D"),
        metadata={"description": LETTER},
    )


CONTENT = ("body_format", "body", "body_project", "text_body")


def _test_or_404(campaign: Campaign) -> None:
    if campaign.ab_test is None:
        raise ApiError(404, "This campaign has no A/B test.", {"campaign_id": campaign.public_id})


def _position(campaign: Campaign, letter: str, status: int = 404) -> int:
    """A variant's position from its letter; `status` with the admin's sentence when there is no such one."""
    if len(letter) != 1 or letter not in ab_testing.LETTERS:
        raise ApiError(
            status, "There is no such variant: a variant's letter is A, B, C or D.", {"variant": letter[:8]}
        )
    position = ab_testing.LETTERS.index(letter)
    try:
        ab_testing.view_of(campaign, position)
    except CampaignError as exc:
        raise ApiError(status, str(exc), {"variant": letter}) from None
    return position


def _refused(campaign: Campaign, exc: CampaignError, where: dict | None = None) -> ApiError:
    """A refusal of the rules: 409 when the campaign's state is why, 422 when a value is (nothing is kept)."""
    status = campaign.status
    db.session.rollback()
    if status != CampaignStatus.DRAFT:
        return ApiError(409, str(exc), {"status": status})
    return ApiError(422, str(exc), where)


def _write_variant(campaign: Campaign, position: int, values: dict, replace: bool) -> None:
    """A variant's fields as given (replace: those left out become the campaign's own again)."""
    variant = ab_testing.view_of(campaign, position).variant
    if replace:
        own = campaign.body_format if campaign.body_format in ab_testing.BODY_FORMATS else "markdown"
        values = (
            dict.fromkeys(("label", "subject", "from_name", *CONTENT[1:]), "") | {"body_format": own} | values
        )
    lines = {key: values[key] for key in ("label", "subject", "from_name") if key in values}
    if lines:
        ab_testing.update_variant(campaign, position, **lines)
    if any(key in values for key in CONTENT):
        ab_testing.set_variant_content(
            campaign,
            position,
            body_format=values.get("body_format", variant.body_format or "markdown"),
            body=values.get("body", variant.body or ""),
            body_project=values.get("body_project", variant.body_project or ""),
            text_body=values.get("text_body", variant.text_body or ""),
        )


@api_route(
    "/campaigns/<public_id>/ab-test",
    responses={200: AbTestSchema},
    operation_id="getCampaignAbTest",
)
def campaign_ab_test_show(public_id: str):
    """A campaign's A/B test, variants' content included

    Its settings, state (draft, testing, decided), each variant as it is sent (subject, sender name,
    content) with its test-share figures: opens and clicks only among recipients who consent to that
    tracking, unique people, no machines. `live` is the verdict so far, as the campaign page shows it. 404
    when the campaign has none.
    """
    campaign = campaign_or_404(public_id)
    _test_or_404(campaign)
    return ab_test_json(campaign, content=True)


@api_route(
    "/campaigns/<public_id>/ab-test",
    ("PUT",),
    body=AbTestWrite,
    responses={200: AbTestSchema},
    errors=NOT_A_DRAFT,
    operation_id="setCampaignAbTest",
)
def campaign_ab_test_set(public_id: str, body: dict):
    """Set up or change a draft's A/B test

    As the admin's A/B test page: turns the test on (variants A and B with the campaign's own content at
    first) or changes it. Settings left out stay as they are; `variants`, when given, is every variant in
    order, 2 to 4 (a field left out of one: the campaign's own). Nothing is kept when any value is refused:
    422 with the admin's sentence.
    """
    campaign = campaign_or_404(public_id)
    test = campaign.ab_test
    try:
        ab_testing.configure(
            campaign,
            enabled=True,
            test_percent=body.get("test_percent", test.test_percent if test else 20),
            wait_minutes=body.get("wait_minutes", test.wait_minutes if test else 240),
            criterion=body.get("criterion", test.criterion if test else AbCriterion.CLICKS),
        )
    except CampaignError as exc:
        raise _refused(campaign, exc) from None
    for index, values in enumerate(body.get("variants") or []):
        try:
            if index >= len(campaign.ab_variants):
                ab_testing.add_variant(campaign)
            _write_variant(campaign, index, values, replace=True)
        except CampaignError as exc:
            raise _refused(campaign, exc, {"variant": ab_testing.letter(index)}) from None
    while "variants" in body and len(campaign.ab_variants) > len(body["variants"]):
        ab_testing.remove_variant(campaign, len(campaign.ab_variants) - 1)
    db.session.commit()
    return ab_test_json(campaign, content=True)


@api_route(
    "/campaigns/<public_id>/ab-test/variants/<letter>",
    ("PATCH",),
    body=AbVariantWrite,
    responses={200: AbTestSchema},
    errors=NOT_A_DRAFT,
    parameters={"letter": LETTER},
    operation_id="updateCampaignAbVariant",
)
def campaign_ab_variant_update(public_id: str, letter: str, body: dict):
    """Change one variant of a draft's A/B test

    Only the fields sent change (an empty value: the campaign's own again). The admin's rules and
    sentences: one-line headers, no address in the sender name, merge fields that render, a visual design
    kept only while it exports the body.
    """
    campaign = campaign_or_404(public_id)
    _test_or_404(campaign)
    position = _position(campaign, letter)
    if not body:
        raise ApiError(422, "Nothing to change: send at least one field.")
    try:
        _write_variant(campaign, position, body, replace=False)
    except CampaignError as exc:
        raise _refused(campaign, exc, {"variant": letter}) from None
    db.session.commit()
    return ab_test_json(campaign, content=True)


@api_route(
    "/campaigns/<public_id>/ab-test",
    ("DELETE",),
    responses={204: None},
    errors=NOT_A_DRAFT,
    operation_id="deleteCampaignAbTest",
)
def campaign_ab_test_delete(public_id: str):
    """Remove a draft's A/B test

    As turning it off in the admin: the settings and every variant go; the campaign is sent as itself.
    """
    campaign = campaign_or_404(public_id)
    _test_or_404(campaign)
    try:
        ab_testing.configure(campaign, enabled=False)
    except CampaignError as exc:
        raise _refused(campaign, exc) from None
    db.session.commit()
    return None, 204


@api_route(
    "/campaigns/<public_id>/ab-test/winner",
    ("POST",),
    body=WinnerPick,
    responses={200: AbTestSchema},
    errors={
        409: "The winner can't be picked now: the test share is not out yet, the campaign is not running, or "
        "a winner was already chosen (the message says which)."
    },
    operation_id="pickCampaignAbWinner",
)
def campaign_ab_winner(public_id: str, body: dict):
    """Pick the winner of an A/B test by hand

    As on the campaign page: once the test share has been sent, while the campaign runs (sending or
    paused), with either criterion; the rest of the audience then gets the winner. Audited.
    """
    campaign = campaign_or_404(public_id)
    _test_or_404(campaign)
    position = _position(campaign, body["variant"], 422)
    try:
        ab_testing.pick_winner(campaign, position, g.api_key.created_by_id)
    except CampaignError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), {"status": campaign.status}) from None
    audit.record(
        "campaign.ab_winner",
        "campaign",
        campaign.public_id,
        {"winner": body["variant"], "via": "api", "api_key": g.api_key_prefix},
        ip=request.remote_addr,
    )
    db.session.commit()
    return ab_test_json(campaign, content=True)
