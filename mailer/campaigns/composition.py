"""A campaign's messages: everything a worker needs to turn one recipient into signed bytes, prepared once per
campaign and process, and the campaign's test sends. The MIME, DKIM and transport rules are delivery's.

The compiler's link and pixel slots (`{{ _links[id] }}`, `{{ _pixel }}`) become inert markers in the template
Jinja renders per recipient, and are filled in afterwards by plain string assembly: Jinja then only evaluates
the marketer's merge fields and the footer, and the 20-odd URLs of a message cost one split and a join.
"""

import re
import secrets
import threading
from dataclasses import dataclass
from email.headerregistry import Address
from functools import partial

from flask import current_app
from markupsafe import escape
from sqlalchemy import select

from mailer.campaigns.models import Campaign, Link
from mailer.campaigns.rendering import (
    SAMPLE_CONTACT,
    CompiledCampaign,
    base_context,
    compile_campaign,
    contact_view,
    language_context,
)
from mailer.contacts.fields import merge_values
from mailer.contacts.models.contact import ContactStatus
from mailer.contacts.operations import find_contact_by_email
from mailer.core.extensions import db
from mailer.core.urls import CampaignLinks, UnsubscribeAddresses
from mailer.delivery import replies as bounces
from mailer.delivery.dkim import signer_for_domain
from mailer.delivery.failover import relay_route
from mailer.delivery.outgoing import MessageKind, hand_over, parse_sender, sign
from mailer.delivery.skeleton import LEADING_DOT, MessageSkeleton
from mailer.organisation import settings as organisation_settings
from mailer.subscriptions.models.lists import MailingList

_LINK_SLOT = re.compile(r"\{\{ _links\[(\d+)\] \}\}")
_PIXEL_SLOT = "{{ _pixel }}"

_CACHE: dict[tuple, "Composer"] = {}
_LOCK = threading.Lock()


@dataclass
class Built:
    """One recipient's finished message."""

    raw: bytes
    message_id: str
    subject: str
    envelope_from: str
    dot_safe: bool = False  # no line starts with a dot: SMTP needs no dot-stuffing pass


def sender_address(campaign: Campaign) -> Address:
    """The campaign's From (its own settings, else the organisation's sender) as an Address."""
    if campaign.from_email:
        return parse_sender(
            f"{campaign.from_name} <{campaign.from_email}>" if campaign.from_name else campaign.from_email
        )
    return organisation_settings.sender()


class Composer:
    """Compiled templates, MIME skeleton, DKIM signer and link table of one campaign."""

    def __init__(self, campaign: Campaign, compiled: CompiledCampaign, test: bool = False):
        config = current_app.config
        sender = sender_address(campaign)
        feedback = config.get("MAILER_FEEDBACK_ID") or ""
        self.campaign_id = campaign.id
        self.campaign_public_id = campaign.public_id
        self.track_opens = campaign.track_opens and not test
        self.track_clicks = campaign.track_clicks and not test
        self.marker = f"zq{secrets.token_hex(6)}s"
        self.compiled = self._with_markers(compiled)
        self.links = CampaignLinks(campaign.public_id, compiled.links)
        # An untracked recipient's slots hold the links themselves, HTML-escaped as Jinja would, and no pixel.
        self.plain_slots = {str(link_id): str(escape(url)) for link_id, url in compiled.links.items()}
        if self.track_clicks and config["TRACKING_ANONYMOUS_COUNTS"]:
            # Opt-in setting: recipient-free redirects, one URL for everyone, counted as per-link totals only.
            self.plain_slots.update(
                {
                    str(link_id): str(escape(self.links.anonymous_click_url(link_id)))
                    for link_id in compiled.links
                }
            )
        self.plain_slots["P"] = ""
        # A click URL is a prefix per recipient plus a link part per link, both in the token alphabet (nothing
        # for HTML to escape); only the prefix's base URL might need escaping, so the prefix alone is escaped.
        self.click_slots = [(str(link_id), part) for link_id, part in self.links.link_parts.items()]
        skeleton = partial(
            MessageSkeleton,
            from_name=sender.display_name,
            from_email=sender.addr_spec,
            reply_to=campaign.reply_to or organisation_settings.reply_to(),
            feedback_id=f"{campaign.public_id[:16]}:{campaign.category}:{feedback}" if feedback else "",
            test=test,
        )
        self.skeleton = skeleton()
        # A test to an address that is no contact: no one-click header, whose POST could act on nobody.
        self.skeleton_without_one_click = skeleton(one_click=False) if test else None
        self.signer = signer_for_domain(sender.domain)
        self.bounce_base = bounces.bounce_base()
        self.unsubscribe_addresses = UnsubscribeAddresses(self.bounce_base)
        self.base = base_context(campaign)
        self.test = test
        self.list_public_ids: dict[int | None, str] = dict(
            db.session.execute(
                select(MailingList.id, MailingList.public_id).where(
                    MailingList.id.in_([m.id for m in campaign.lists])
                )
            ).all()
        )

    def _with_markers(self, compiled: CompiledCampaign) -> CompiledCampaign:
        """The same templates with the link and pixel slots turned into markers filled in after rendering."""
        html = _LINK_SLOT.sub(lambda m: f"{self.marker}{m.group(1)}.", compiled.html_source)
        html = html.replace(_PIXEL_SLOT, f"{self.marker}P.")
        return CompiledCampaign(
            html, compiled.text_source, compiled.subject_source, compiled.preheader_source, compiled.links
        )

    def _fill(self, html: str, slots: dict[str, str]) -> str:
        """Put each slot's value where its marker is (one split, one join)."""
        pieces = html.split(self.marker)
        out = [pieces[0]]
        for piece in pieces[1:]:
            key, dot, rest = piece.partition(".")
            value = slots.get(key) if dot else None
            if value is None:  # not one of ours (cannot happen with a random marker): leave it as it was
                out.append(self.marker)
                out.append(piece)
            else:
                out.append(value)
                out.append(rest)
        return "".join(out)

    def build(
        self,
        *,
        delivery_id: int | None,
        contact_public_id: str,
        list_id: int | None,
        email: str,
        name: str | None,
        attributes: dict | None,
        track_opens: bool = False,
        track_clicks: bool = False,
        one_click: bool = True,
        fields: dict | None = None,
        language: str | None = None,
    ) -> Built:
        """Render, assemble and sign one recipient's message (one_click=False: a test to a non-contact)."""
        links = self.links
        unsubscribe = links.unsubscribe_url(contact_public_id, self.list_public_ids.get(list_id))
        context = dict(self.base)
        context.update(
            contact=contact_view(email, name, attributes, fields),
            unsubscribe_url=unsubscribe,
            preferences_url=links.preferences_url(contact_public_id),
            _links=self.compiled.links,
            **language_context(language),  # the footer in the recipient's language
        )
        slots = self.plain_slots
        tracked_clicks = self.track_clicks and track_clicks
        tracked_opens = self.track_opens and track_opens
        if tracked_clicks or tracked_opens:
            slots = dict(slots)
            if tracked_clicks:
                prefix = str(escape(links.click_prefix(contact_public_id)))
                slots.update((key, prefix + part) for key, part in self.click_slots)
            if tracked_opens:
                src = escape(links.open_pixel_url(contact_public_id))
                slots["P"] = (
                    f'<img src="{src}" width="1" height="1" alt="" '
                    'style="display:block;border:0;width:1px;height:1px">'
                )
        rendered = self.compiled.render(context)
        subject = f"[TEST] {rendered.subject}" if self.test else rendered.subject
        skeleton = self.skeleton
        if not one_click and self.skeleton_without_one_click is not None:  # only a test builds one
            skeleton = self.skeleton_without_one_click
        message_id = skeleton.message_id(f"{delivery_id}" if delivery_id else "test")
        raw, flags = skeleton.assemble(
            to_email=email,
            to_name=name,
            subject=subject,
            message_id=message_id,
            unsubscribe_url=unsubscribe,
            text=rendered.text,
            html=self._fill(rendered.html, slots),
            # A test send has no delivery for the address to name: the HTTPS link alone.
            unsubscribe_mailto=self.unsubscribe_addresses.mailto(delivery_id) if delivery_id else "",
        )
        raw = sign(self.signer, raw, flags)
        envelope = (
            bounces.verp_address(delivery_id, self.bounce_base) if delivery_id else "@".join(self.bounce_base)
        )
        return Built(raw, message_id, subject, envelope, dot_safe=not flags & LEADING_DOT)


def composer_for(campaign: Campaign) -> Composer:
    """The campaign's composer, built once per process from the sources compiled when it started."""
    key = (
        campaign.public_id,
        campaign.id,
        hash(campaign.compiled_html),
        hash(campaign.compiled_text),
        campaign.subject,
        campaign.preheader,
        campaign.from_name,  # A/B test variants may differ by sender name alone
    )
    with _LOCK:
        composer = _CACHE.get(key)
    if composer is None:
        links = dict(
            db.session.execute(select(Link.id, Link.url).where(Link.campaign_id == campaign.id)).all()
        )
        compiled = CompiledCampaign(
            campaign.compiled_html,
            campaign.compiled_text,
            campaign.subject or "",
            campaign.preheader or "",
            links,
        )
        composer = Composer(campaign, compiled)
        with _LOCK:
            if len(_CACHE) > 16:
                _CACHE.clear()
            _CACHE[key] = composer
    return composer


def send_test_messages(campaign_id: int, addresses: list[str]) -> int:
    """Build each test message as a real one (DKIM, transport), marked as a test; returns how many went."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return 0
    composer = Composer(campaign, compile_campaign(campaign), test=True)
    list_id = campaign.lists[0].id if campaign.lists else None
    route = relay_route(campaign.relay_id, campaign.failover_relay_id)  # the relays of the real send
    sent = 0
    for address in addresses:
        contact = find_contact_by_email(address)
        if contact is not None and contact.status == ContactStatus.ACTIVE:
            built = composer.build(
                delivery_id=None,
                list_id=list_id,
                email=address,
                contact_public_id=contact.public_id,
                name=contact.name,
                attributes=contact.attributes,
                fields=merge_values([contact.id]).get(contact.id, {}),
                language=contact.language,
            )
        else:  # no contact whose one-click unsubscribe could act: the message carries no such header
            built = composer.build(
                delivery_id=None,
                list_id=list_id,
                email=address,
                contact_public_id="test",
                name=str(SAMPLE_CONTACT["name"]),
                attributes={},
                one_click=False,
            )
        hand_over(
            built.envelope_from,
            address,
            built.raw,
            kind=MessageKind.CAMPAIGN_TEST,
            subject=built.subject,
            message_id=built.message_id,
            route=route,
        )
        sent += 1
    db.session.commit()
    return sent
