"""Everything a worker needs to turn one recipient into signed bytes, prepared once per campaign and process."""
import threading
from dataclasses import dataclass

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import select

from mailer.extensions import db
from mailer.models import Campaign, Link, MailingList
from mailer.sending import bounces
from mailer.sending.dkim import signer_for_domain
from mailer.sending.messages import parse_sender
from mailer.sending.skeleton import MessageSkeleton
from mailer.services import recipient_links
from mailer.services.rendering import CompiledCampaign, base_context, contact_view

_CACHE: dict[tuple, "Composer"] = {}
_LOCK = threading.Lock()


@dataclass
class Built:
    """One recipient's finished message."""

    raw: bytes
    message_id: str
    subject: str
    envelope_from: str


def sender_address(campaign: Campaign):
    """The campaign's From (its own settings, else MAILER_FROM) as an Address."""
    if campaign.from_email:
        return parse_sender(f"{campaign.from_name} <{campaign.from_email}>" if campaign.from_name
                            else campaign.from_email)
    return parse_sender(current_app.config["MAILER_FROM"])


class Composer:
    """Compiled templates, MIME skeleton, DKIM signer and link table of one campaign."""

    def __init__(self, campaign: Campaign, compiled: CompiledCampaign, test: bool = False):
        config = current_app.config
        sender = sender_address(campaign)
        feedback = config.get("MAILER_FEEDBACK_ID") or ""
        self.campaign_id = campaign.id
        self.campaign_public_id = campaign.public_id
        self.compiled = compiled
        self.track_opens = campaign.track_opens and not test
        self.track_clicks = campaign.track_clicks and not test
        self.skeleton = MessageSkeleton(
            from_name=sender.display_name, from_email=sender.addr_spec, reply_to=campaign.reply_to or "",
            feedback_id=f"{campaign.public_id[:16]}:{campaign.category}:{feedback}" if feedback else "", test=test)
        self.signer = signer_for_domain(sender.domain)
        self.bounce_base = bounces.bounce_base()
        self.base = base_context(campaign)
        self.test = test
        self.list_public_ids = dict(db.session.execute(
            select(MailingList.id, MailingList.public_id).where(MailingList.id.in_([m.id for m in campaign.lists]))
        ).all())

    def build(self, *, delivery_id: int | None, contact_public_id: str, list_id: int | None, email: str,
              name: str | None, attributes: dict | None, track_opens: bool = False,
              track_clicks: bool = False) -> Built:
        """Render, assemble and sign one recipient's message."""
        campaign_id = self.campaign_public_id
        unsubscribe = recipient_links.unsubscribe_url(contact_public_id, self.list_public_ids.get(list_id), campaign_id)
        context = dict(self.base)
        context.update(contact=contact_view(email, name, attributes), unsubscribe_url=unsubscribe,
                       preferences_url=recipient_links.preferences_url(contact_public_id), _links=self.compiled.links)
        if self.track_clicks and track_clicks:
            context["_links"] = {link_id: recipient_links.click_url(contact_public_id, campaign_id, link_id)
                                 for link_id in self.compiled.links}
        if self.track_opens and track_opens:
            src = escape(recipient_links.open_pixel_url(contact_public_id, campaign_id))
            context["_pixel"] = Markup(f'<img src="{src}" width="1" height="1" alt="" '
                                       'style="display:block;border:0;width:1px;height:1px">')
        rendered = self.compiled.render(context)
        subject = f"[TEST] {rendered.subject}" if self.test else rendered.subject
        message_id = self.skeleton.message_id(f"{delivery_id}" if delivery_id else "test")
        raw = self.skeleton.build(to_email=email, to_name=name, subject=subject, message_id=message_id,
                                  unsubscribe_url=unsubscribe, text=rendered.text, html=rendered.html)
        if self.signer is not None:
            raw = self.signer.sign(raw)
        envelope = (bounces.verp_address(delivery_id, self.bounce_base) if delivery_id
                    else "@".join(self.bounce_base))
        return Built(raw, message_id, subject, envelope)


def composer_for(campaign: Campaign) -> Composer:
    """The campaign's composer, built once per process from the sources compiled when it started."""
    key = (campaign.public_id, campaign.id, hash(campaign.compiled_html), hash(campaign.compiled_text), campaign.subject,
           campaign.preheader)
    with _LOCK:
        composer = _CACHE.get(key)
    if composer is None:
        links = dict(db.session.execute(select(Link.id, Link.url).where(Link.campaign_id == campaign.id)).all())
        compiled = CompiledCampaign(campaign.compiled_html, campaign.compiled_text, campaign.subject or "",
                                    campaign.preheader or "", links)
        composer = Composer(campaign, compiled)
        with _LOCK:
            if len(_CACHE) > 16:
                _CACHE.clear()
            _CACHE[key] = composer
    return composer
