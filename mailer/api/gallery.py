"""The template gallery through the API, as in the admin: the starter templates, the campaigns saved as
templates, a new draft campaign from either, and a campaign kept as a template.

A new campaign from the gallery is a draft made by the editor's rules (mailer.campaigns.drafts, as
POST /campaigns): the template gives its name, subject, preheader, body and layout, the caller its audience
and anything it wants different.
"""

from flask import g
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from mailer.api.campaign_actions import CampaignWrite, create_campaign
from mailer.api.campaigns import campaign_or_404
from mailer.api.errors import ApiError
from mailer.api.fields import RequestSchema, Text, page_of, public_id, timestamp
from mailer.api.inputs import PageQuery, invalid, paged
from mailer.api.routing import api_route
from mailer.api.schemas import CampaignSchema
from mailer.api.serializers import iso
from mailer.campaigns import gallery
from mailer.campaigns import layouts as layout_service
from mailer.campaigns.drafts import MAX_NAME
from mailer.campaigns.models import CampaignTemplate
from mailer.core.extensions import db

FORMATS = ("visual", "html", "markdown")
FORMAT_HELP = (
    "The body's format: `html` (default), `visual` (the block editor imports it) or `markdown` (only "
    "for starters that have a Markdown version, see `formats`)."
)


class StarterQuery(RequestSchema):
    format = Text(
        validate=validate.OneOf(FORMATS, error="must be one of " + ", ".join(FORMATS)),
        metadata={"description": "Only the starters usable in this format."},
    )


class StarterCampaign(CampaignWrite):
    """The new draft's audience and what it changes of the starter."""

    format = Text(
        validate=validate.OneOf(FORMATS, error="must be one of " + ", ".join(FORMATS)),
        metadata={"description": FORMAT_HELP},
    )


class TemplateName(RequestSchema):
    name = Text(required=True, max_length=MAX_NAME, metadata={"description": "Its name in the gallery."})


class StarterSchema(Schema):
    key = fields.String(metadata={"description": "Names it in POST /templates/starters/{key}/campaigns."})
    name = fields.String()
    description = fields.String()
    subject = fields.String()
    preheader = fields.String()
    layout = fields.String(metadata={"description": "The built-in layout it looks best in (by name)."})
    formats = fields.List(fields.String())


class TemplateSchema(Schema):
    id = public_id()
    name = fields.String()
    subject = fields.String()
    preheader = fields.String()
    body_format = fields.String()
    body = fields.String(metadata={"description": "Only on GET /templates/{public_id} and on saving."})
    text_body = fields.String(metadata={"description": "Only on GET /templates/{public_id} and on saving."})
    layout_id = fields.String(allow_none=True, metadata={"description": "Its layout's public id."})
    created_at = timestamp()


StarterPageSchema = page_of(StarterSchema, "StarterPage")
TemplatePageSchema = page_of(TemplateSchema, "TemplatePage")
NEW_DRAFT = {422: "The draft would break an editor's rule (e.g. no list or segment): `detail` names each."}


def starter_json(item: gallery.Starter) -> dict:
    return {
        "key": item.key,
        "name": item.name,
        "description": item.description,
        "subject": item.subject,
        "preheader": item.preheader,
        "layout": item.layout,
        "formats": list(gallery.formats(item)),
    }


def template_json(template: CampaignTemplate, full: bool = True) -> dict:
    data = {
        "id": template.public_id,
        "name": template.name,
        "subject": template.subject,
        "preheader": template.preheader,
        "body_format": template.body_format,
        "layout_id": template.layout.public_id if template.layout is not None else None,
        "created_at": iso(template.created_at),
    }
    if full:
        data |= {"body": template.body, "text_body": template.text_body}
    return data


def _template(public_id: str) -> CampaignTemplate:
    template = db.session.execute(
        select(CampaignTemplate).where(CampaignTemplate.public_id == public_id[:32])
    ).scalar_one_or_none()
    if template is None:
        raise ApiError(404, "There is no template with this id.", {"template_id": public_id[:64]})
    return template


@api_route(
    "/templates/starters",
    query=StarterQuery,
    responses={200: StarterPageSchema},
    operation_id="listStarterTemplates",
)
def starters_index(query: dict):
    """Starter templates

    The templates every installation has (newsletter, announcement, event…), on one page.
    """
    wanted = query.get("format")
    items = [item for item in gallery.STARTERS if wanted is None or wanted in gallery.formats(item)]
    return {"data": [starter_json(item) for item in items], "next_cursor": None}


@api_route("/templates", query=PageQuery, responses={200: TemplatePageSchema}, operation_id="listTemplates")
def templates_index(query: dict):
    """Saved templates

    Campaigns kept as templates, oldest first, without their bodies.
    """
    return paged(
        query,
        select(CampaignTemplate),
        CampaignTemplate,
        CampaignTemplate.public_id,
        lambda row: template_json(row, full=False),
    )


@api_route("/templates/<public_id>", responses={200: TemplateSchema}, operation_id="getTemplate")
def template_show(public_id: str):
    """One saved template, with its body"""
    return template_json(_template(public_id))


@api_route("/templates/<public_id>", ("DELETE",), responses={204: None}, operation_id="deleteTemplate")
def template_delete(public_id: str):
    """Delete a saved template

    Campaigns made from it keep their content.
    """
    gallery.delete_template(_template(public_id))
    db.session.commit()
    return None, 204


@api_route(
    "/templates/starters/<key>/campaigns",
    ("POST",),
    body=StarterCampaign,
    responses={201: CampaignSchema},
    parameters={"key": "A starter's key (GET /templates/starters)."},
    errors=NEW_DRAFT,
    operation_id="createCampaignFromStarter",
)
def starter_campaign(key: str, body: dict):
    """Start a draft campaign from a starter template

    The starter's name, subject, preheader, body (in `format`) and layout; the sender is the
    organisation's. Send at least `lists` or `segments`; any other campaign field replaces the starter's.
    """
    item = gallery.starter(key[:40])
    if item is None:
        raise ApiError(404, "There is no starter template with this key.", {"key": key[:64]})
    layout_service.ensure_builtin_layouts()  # the starter's layout (as the admin's gallery makes sure)
    body_format = body.pop("format", "html")
    if body_format not in gallery.formats(item):
        raise invalid("format", "this starter has no " + body_format + " version")
    return create_campaign(body, gallery.starter_fields(item, body_format)), 201


@api_route(
    "/templates/<public_id>/campaigns",
    ("POST",),
    body=CampaignWrite,
    responses={201: CampaignSchema},
    errors=NEW_DRAFT,
    operation_id="createCampaignFromTemplate",
)
def template_campaign(public_id: str, body: dict):
    """Start a draft campaign from a saved template

    The template's name, subject, preheader, body, design and layout; the sender is the organisation's.
    Send at least `lists` or `segments`; any other campaign field replaces the template's.
    """
    return create_campaign(body, gallery.template_fields(_template(public_id))), 201


@api_route(
    "/campaigns/<public_id>/template",
    ("POST",),
    body=TemplateName,
    responses={201: TemplateSchema},
    errors={422: "The name is empty or too long, or the campaign has no content yet."},
    operation_id="saveCampaignAsTemplate",
)
def campaign_save_template(public_id: str, body: dict):
    """Keep a campaign as a template

    Its content (subject, preheader, body, design, layout), not its audience or schedule, in the gallery.
    """
    campaign = campaign_or_404(public_id)
    try:
        template = gallery.save_as_template(campaign, body["name"], g.api_key.created_by_id)
    except gallery.TemplateError as exc:
        db.session.rollback()
        raise invalid("name" if "name" in str(exc) else "campaign", str(exc)) from None
    db.session.commit()
    return template_json(template), 201
