"""Campaign drafts: the editor's fields validated into a Campaign; schedule times read in a time zone."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_babel import gettext
from jinja2 import TemplateError
from sqlalchemy import func, select

from mailer.campaigns import ab_testing, merge_tags, rendering, visual
from mailer.campaigns.email_css import remote_style_problems
from mailer.campaigns.models import Campaign, CampaignStatus, Layout
from mailer.campaigns.rendering import text_env
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.contacts.operations import AddressError, find_contact_by_email, normalise_email
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.ids import new_public_id
from mailer.core.sentences import shown
from mailer.core.text import TextRefused, has_controls, header_safe, one_line, refusal_message
from mailer.delivery.relays import Relay
from mailer.organisation import settings as organisation_settings
from mailer.segments.models import Segment
from mailer.subscriptions.models.lists import MailingList

MAX_NAME = 200
MAX_SUBJECT = 200
MAX_PREHEADER = 250
MAX_FROM_NAME = 120
MAX_BODY = 100_000
BODY_FORMATS = ("markdown", "html", "visual")
AT_SIGNS = ("@", "\uff20", "\ufe6b")  # the ASCII sign and its full-width and small look-alikes
SCHEDULE_FORMAT = "%Y-%m-%dT%H:%M"


class DraftError(ValueError):
    """The draft could not be saved; `errors` maps each field to a message written for the marketer."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass
class DraftFields:
    """What the campaign editor submits (strings as typed, ids as chosen)."""

    name: str = ""
    subject: str = ""
    preheader: str = ""
    from_name: str = ""
    from_email: str = ""
    reply_to: str = ""
    body_format: str = "markdown"
    body: str = ""
    body_project: str = ""  # visual format: the block editor's project JSON (body is its exported HTML)
    text_body: str = ""
    layout_id: int | None = None
    list_ids: list[int] = field(default_factory=list)
    exclusion_list_ids: list[int] = field(default_factory=list)
    segment_ids: list[int] = field(default_factory=list)
    track_opens: bool = False
    track_clicks: bool = False
    send_at: str = ""  # "YYYY-MM-DDTHH:MM" in `timezone`, or empty: no planned time
    timezone: str = "UTC"
    relay_id: int | None = None  # a named relay (None: the default relay of SMTP_URL)
    failover_relay_id: int | None = None  # the relay messages go to while the first one is down


@lru_cache(maxsize=1)
def time_zone_names() -> tuple[str, ...]:
    """Every IANA time zone name, sorted (the editor's select)."""
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def default_sender() -> tuple[str, str]:
    """(name, address) of the organisation's sender, the editor's starting values."""
    return organisation_settings.sender_parts()


def parse_schedule(local_text: str, tz_name: str) -> tuple[datetime, datetime]:
    """Read "YYYY-MM-DDTHH:MM" as wall-clock time in an IANA zone; return (local naive, UTC naive).

    A time skipped by a daylight-saving change is refused; a repeated one means its first occurrence.
    """
    try:
        zone = ZoneInfo(tz_name) if tz_name in time_zone_names() else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        raise DraftError({"timezone": gettext("Choose a time zone from the list.")})
    text = (local_text or "").strip()[:40]
    try:
        local = datetime.strptime(text[:16], SCHEDULE_FORMAT) if len(text) >= 16 else None
    except ValueError:
        local = None
    if local is None:
        raise DraftError(
            {"send_at": gettext("Enter the send time as a date and time, e.g. 2030-05-01T09:30.")}
        )
    aware = local.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local:
        raise DraftError(
            {
                "send_at": f"{local:%Y-%m-%d %H:%M} does not exist in {tz_name}: the clocks skip "
                "that hour (daylight saving time). Choose another time."
            }
        )
    return local, utc.replace(tzinfo=None)


def local_schedule_text(campaign: Campaign) -> str:
    """The campaign's planned time as the editor shows it: wall-clock time in the campaign's zone."""
    if campaign.scheduled_at is None:
        return ""
    try:
        zone = ZoneInfo(campaign.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return campaign.scheduled_at.replace(tzinfo=UTC).astimezone(zone).strftime(SCHEDULE_FORMAT)


def _syntax_problem(label: str, text: str) -> str | None:
    """A merge-field error in one field, on the marketer's own line and column, or a sensitive field named."""
    return merge_tags.part_problem(text_env, label, text)


def _single_line(value: str, field_name: str, label: str, errors: dict[str, str]) -> str:
    """Header fields are one line: whitespace runs (including newlines) become one space; control characters
    (NUL, ESC, BEL …) are refused, because they would reach the message's headers."""
    try:
        return one_line(value, f"The {label}")
    except TextRefused as exc:
        errors[field_name] = str(exc)
        return ""


def _sender_name(value: str, errors: dict[str, str]) -> str:
    """The From name: one line, and never an address — `"support@bank.example" <news@ours>` shows a stranger's
    address as the sender in most mail programs."""
    name = _single_line(value, "from_name", "sender name", errors)
    if len(name) > MAX_FROM_NAME:
        errors["from_name"] = gettext(
            "The sender name is too long (%(max)s characters at most).", max=MAX_FROM_NAME
        )
    elif any(sign in name for sign in AT_SIGNS) or "<" in name or ">" in name:
        errors["from_name"] = gettext(
            "The sender name can't contain an email address, “@”, “<” or “>”: mail programs "
            "would show it as the sender. Put the address under “Sender address”."
        )
    return name


def _address(value: str, field_name: str, errors: dict[str, str], required: bool) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            errors[field_name] = gettext("Enter the sender address.")
        return ""
    try:
        return normalise_email(value)
    except AddressError:
        errors[field_name] = (
            gettext("The sender address “%(value)s” is not a valid email address.", value=value[:80])
            if field_name == "from_email"
            else gettext("The reply-to address “%(value)s” is not a valid email address.", value=value[:80])
        )
        return ""


def segments_by_id(ids: list[int]) -> list[Segment]:
    """The saved segments with these ids that exist, by name."""
    ids = [i for i in ids if isinstance(i, int)][:500]
    if not ids:
        return []
    return list(
        db.session.execute(select(Segment).where(Segment.id.in_(ids)).order_by(Segment.name)).scalars()
    )


def lists_by_id(ids: list[int]) -> list[MailingList]:
    """The lists with these ids that exist, by name."""
    ids = [i for i in ids if isinstance(i, int)][:500]
    if not ids:
        return []
    query = select(MailingList).where(MailingList.id.in_(ids)).order_by(MailingList.name)
    return list(db.session.execute(query).scalars())


def clean_fields(fields: DraftFields) -> dict:
    """Validate every field; return the values to store or raise DraftError naming each problem."""
    errors: dict[str, str] = {}
    values: dict = {}
    values["name"] = _single_line(fields.name, "name", "name", errors)
    if not values["name"] and "name" not in errors:
        errors["name"] = gettext("Give the campaign a name (only your team sees it).")
    elif len(values["name"]) > MAX_NAME:
        errors["name"] = gettext("The name is too long (%(max)s characters at most).", max=MAX_NAME)
    values["subject"] = _single_line(fields.subject, "subject", "subject", errors)
    if not values["subject"] and "subject" not in errors:
        errors["subject"] = gettext("Enter a subject line.")
    elif len(values["subject"]) > MAX_SUBJECT:
        errors["subject"] = gettext(
            "The subject is %(length)s characters long; keep it to %(max)s (most inboxes show only the first "
            "40–60).",
            length=len(values["subject"]),
            max=MAX_SUBJECT,
        )
    values["preheader"] = _single_line(fields.preheader, "preheader", "preheader", errors)
    if len(values["preheader"]) > MAX_PREHEADER:
        errors["preheader"] = gettext(
            "The preheader is too long (%(max)s characters at most).", max=MAX_PREHEADER
        )
    values["from_name"] = _sender_name(fields.from_name, errors)
    values["from_email"] = _address(fields.from_email, "from_email", errors, required=True)
    values["reply_to"] = _address(fields.reply_to, "reply_to", errors, required=False)
    values["body_format"] = fields.body_format if fields.body_format in BODY_FORMATS else None
    if values["body_format"] is None:
        errors["body_format"] = gettext("Choose Visual, Markdown or HTML for the body.")
    values["body"] = (fields.body or "").replace("\r\n", "\n")
    values["body_project"] = ""
    if values["body_format"] == "visual":
        values["body"] = visual.clean_exported_html(values["body"])
        try:
            values["body_project"] = visual.clean_project(fields.body_project, values["body"])
        except visual.ProjectError as exc:
            errors["body"] = str(exc)
    values["text_body"] = (fields.text_body or "").replace("\r\n", "\n")
    if not values["body"].strip() and "body" not in errors:
        errors["body"] = gettext("Write the body of the email.")
    for key, label in (("body", "body"), ("text_body", "text part")):
        if has_controls(values[key], multiline=True):
            errors[key] = refusal_message(f"The {label}")
        elif len(values[key]) > MAX_BODY:
            errors[key] = (
                gettext(
                    "The body is too long (%(length)s characters; %(max)s at most).",
                    length=f"{len(values[key]):,}",
                    max=f"{MAX_BODY:,}",
                )
                if key == "body"
                else gettext(
                    "The text part is too long (%(length)s characters; %(max)s at most).",
                    length=f"{len(values[key]):,}",
                    max=f"{MAX_BODY:,}",
                )
            )
    for key, label in (
        ("subject", "subject"),
        ("preheader", "preheader"),
        ("body", "body"),
        ("text_body", "text part"),
    ):
        if key not in errors and (problem := _syntax_problem(label, values[key])):
            errors[key] = problem
    if "body" not in errors and (remote := remote_style_problems(values["body"], "body")):
        errors["body"] = " ".join(remote)
    layout = db.session.get(Layout, fields.layout_id) if fields.layout_id else None
    if layout is None:
        errors["layout_id"] = gettext("Choose a layout.")
    values["layout"] = layout
    values["lists"] = lists_by_id(fields.list_ids)
    values["segments"] = segments_by_id(fields.segment_ids)
    if not values["lists"] and not values["segments"]:
        any_segment = db.session.execute(select(Segment.id).limit(1)).first() is not None
        errors["list_ids"] = (
            gettext("Choose at least one list or segment to send to.")
            if any_segment
            else gettext("Choose at least one list to send to.")
        )
    if archived := [lst.name for lst in values["lists"] if lst.archived_at is not None]:
        errors["list_ids"] = gettext(
            "“%(name)s” is archived: un-archive it to send to it, or untick it.", name=archived[0]
        )
    values["exclusion_lists"] = lists_by_id(fields.exclusion_list_ids)
    both = {lst.name for lst in values["lists"]} & {lst.name for lst in values["exclusion_lists"]}
    if both:
        names = ", ".join(sorted(both))
        errors["exclusion_list_ids"] = gettext(
            "A list can't be both sent to and excluded: %(names)s.", names=names
        )
    values["track_opens"], values["track_clicks"] = bool(fields.track_opens), bool(fields.track_clicks)
    _clean_relays(fields, values, errors)
    values["timezone"], values["scheduled_at"] = fields.timezone or "UTC", None
    if fields.timezone not in time_zone_names():
        errors["timezone"] = gettext("Choose a time zone from the list.")
    elif (fields.send_at or "").strip():
        try:
            _, values["scheduled_at"] = parse_schedule(fields.send_at, fields.timezone)
        except DraftError as exc:
            errors.update(exc.errors)
        else:
            if is_past(values["scheduled_at"]):
                errors["send_at"] = gettext(
                    "The planned send time has passed. Choose a later one or clear it."
                )
    if errors:
        raise DraftError(errors)
    return values


def _clean_relays(fields: DraftFields, values: dict, errors: dict[str, str]) -> None:
    """The chosen relays must exist; the failover relay must differ from the first one."""
    for key in ("relay_id", "failover_relay_id"):
        chosen = getattr(fields, key)
        if chosen is not None and db.session.get(Relay, chosen) is None:
            errors[key] = gettext("Choose a relay from the list (that one no longer exists).")
        values[key] = chosen
    if (
        "failover_relay_id" not in errors
        and fields.relay_id is not None
        and fields.failover_relay_id == fields.relay_id
    ):
        errors["failover_relay_id"] = gettext("The failover relay must be another relay than the first one.")


def _apply(campaign: Campaign, values: dict) -> Campaign:
    for key, value in values.items():
        setattr(campaign, key, value)
    campaign.compliance = {}  # audience or content changed: the stored preview must be taken again
    campaign.status_reason = ""  # e.g. why a schedule did not start: the marketer has seen it and acted
    return campaign


def create_draft(fields: DraftFields, created_by_id: int | None = None) -> Campaign:
    """A new draft from the editor's fields; the caller commits."""
    campaign = _apply(
        Campaign(status=CampaignStatus.DRAFT, created_by_id=created_by_id), clean_fields(fields)
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


def start_draft(fields: DraftFields, created_by_id: int | None = None) -> Campaign:
    """A new draft from what was typed so far (the editor's first autosave), so nothing typed is lost.

    Lenient like the live preview: what does not pass yet (no list, no subject…) stays empty or as typed,
    header fields made safe; Save checks everything, and sending refuses what is missing. The caller commits.
    """
    campaign = preview_campaign(fields)
    campaign.public_id = new_public_id()
    if not (fields.name or "").strip():
        campaign.name = "Untitled campaign"
    try:
        campaign.from_email = normalise_email(fields.from_email) if fields.from_email.strip() else ""
    except AddressError:
        campaign.from_email = ""
    try:
        campaign.body_project = visual.clean_project(fields.body_project, campaign.body)
    except visual.ProjectError:
        campaign.body_project = ""
    if campaign.body_format != "visual":
        campaign.body_project = ""
    campaign.lists = [lst for lst in lists_by_id(fields.list_ids) if lst.archived_at is None]
    campaign.segments = segments_by_id(fields.segment_ids)
    campaign.exclusion_lists = lists_by_id(fields.exclusion_list_ids)
    campaign.created_by_id = created_by_id
    db.session.add(campaign)
    db.session.flush()
    return campaign


def update_draft(campaign: Campaign, fields: DraftFields) -> Campaign:
    """Change a draft; campaigns already scheduled or sent can't be edited. The caller commits."""
    if campaign.status != CampaignStatus.DRAFT:
        raise DraftError(
            {
                "status": gettext(
                    "This campaign is %(status)s; only drafts can be edited.", status=campaign.status
                )
            }
        )
    _apply(campaign, clean_fields(fields))
    db.session.flush()
    return campaign


def preview_campaign(fields: DraftFields, campaign: Campaign | None = None) -> Campaign:
    """An unsaved Campaign holding what the editor shows right now, for rendering a live preview.

    Lenient on purpose: the marketer is mid-way through typing, so only the layout must exist.
    """
    layout = db.session.get(Layout, fields.layout_id) if fields.layout_id else None
    preview = Campaign(
        public_id=campaign.public_id if campaign is not None else new_public_id(),
        name=header_safe(fields.name)[:MAX_NAME] or "Untitled campaign",
        subject=header_safe(fields.subject)[:MAX_SUBJECT],
        preheader=header_safe(fields.preheader)[:MAX_PREHEADER],
        from_name=header_safe(fields.from_name)[:MAX_FROM_NAME],
        from_email=(fields.from_email or "").strip()[:320],
        reply_to=(fields.reply_to or "").strip()[:320],
        body_format=fields.body_format if fields.body_format in BODY_FORMATS else "markdown",
        body=(
            visual.clean_exported_html(fields.body) if fields.body_format == "visual" else fields.body or ""
        )[:MAX_BODY],
        text_body=(fields.text_body or "")[:MAX_BODY],
        track_opens=bool(fields.track_opens),
        track_clicks=bool(fields.track_clicks),
        status=CampaignStatus.DRAFT,
        compliance={},
        timezone="UTC",
    )
    preview.layout_id = layout.id if layout else None
    preview.layout = layout
    return preview


def duplicate_campaign(campaign: Campaign, created_by_id: int | None = None) -> Campaign:
    """A new draft with the same content and audience (sending state and schedule are not copied)."""
    copy = Campaign(
        name=f"Copy of {campaign.name}"[:MAX_NAME],
        subject=campaign.subject,
        preheader=campaign.preheader,
        from_name=campaign.from_name,
        from_email=campaign.from_email,
        reply_to=campaign.reply_to,
        body_format=campaign.body_format,
        body=campaign.body,
        body_project=campaign.body_project,
        text_body=campaign.text_body,
        layout_id=campaign.layout_id,
        track_opens=campaign.track_opens,
        track_clicks=campaign.track_clicks,
        timezone=campaign.timezone,
        relay_id=campaign.relay_id,
        failover_relay_id=campaign.failover_relay_id,
        status=CampaignStatus.DRAFT,
        compliance={},
        created_by_id=created_by_id,
    )
    copy.lists = list(campaign.lists)
    copy.exclusion_lists = list(campaign.exclusion_lists)
    copy.segments = list(campaign.segments)
    ab_testing.copy_test(campaign, copy)
    db.session.add(copy)
    db.session.flush()
    return copy


def delete_draft(campaign: Campaign) -> None:
    """Remove a draft that never started sending; the caller commits."""
    if campaign.status != CampaignStatus.DRAFT or campaign.started_at is not None:
        raise DraftError({"status": gettext("Only drafts that were never sent can be deleted.")})
    db.session.delete(campaign)
    db.session.flush()


def status_counts() -> dict[str, int]:
    """Number of campaigns per status, for the index page's filter."""
    rows = db.session.execute(select(Campaign.status, func.count()).group_by(Campaign.status)).all()
    return dict(rows)


def draft_from_campaign(campaign: Campaign) -> DraftFields:
    """The editor's fields for an existing campaign."""
    return DraftFields(
        name=campaign.name,
        subject=campaign.subject,
        preheader=campaign.preheader,
        from_name=campaign.from_name,
        from_email=campaign.from_email,
        reply_to=campaign.reply_to,
        body_format=campaign.body_format,
        body=campaign.body,
        body_project=campaign.body_project,
        text_body=campaign.text_body,
        layout_id=campaign.layout_id,
        list_ids=[lst.id for lst in campaign.lists],
        exclusion_list_ids=[lst.id for lst in campaign.exclusion_lists],
        segment_ids=[segment.id for segment in campaign.segments],
        track_opens=campaign.track_opens,
        track_clicks=campaign.track_clicks,
        send_at=local_schedule_text(campaign),
        timezone=campaign.timezone or "UTC",
        relay_id=campaign.relay_id,
        failover_relay_id=campaign.failover_relay_id,
    )


def is_past(utc_naive: datetime) -> bool:
    """Whether a UTC time has already passed (a schedule must be in the future)."""
    return utc_naive <= utcnow()


def find_preview_contact(query: str) -> Contact | None:
    """The contact to preview as, by address or public id (None: not found, or erased)."""
    query = (query or "").strip()[:320]
    if not query:
        return None
    if "@" in query:
        try:
            contact = find_contact_by_email(normalise_email(query))
        except AddressError:
            return None
    else:
        contact = db.session.execute(select(Contact).where(Contact.public_id == query)).scalar_one_or_none()
    return contact if contact is not None and contact.status != ContactStatus.ERASED else None


def render_preview(
    campaign: Campaign, contact: Contact | None = None
) -> tuple[rendering.Rendered | None, str | None]:
    """(rendered, None) or (None, a message for the marketer) when the merge fields or layout can't render.
    The caller rolls back: nothing of a preview is stored."""
    try:
        return rendering.render_campaign(campaign, contact), None
    except rendering.CampaignError as exc:
        return None, shown(exc)
    except TemplateError as exc:
        return None, gettext("The email can't be rendered: %(problem)s.", problem=exc.message or exc)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        return None, gettext("The email can't be rendered: %(problem)s.", problem=exc)


def readiness(campaign: Campaign) -> list[tuple[bool, str]]:
    """What sending needs, each with whether it is met (a draft's checklist in the admin and the API)."""
    postal = bool(organisation_settings.postal_address().strip())
    layout_ok = campaign.layout is not None and campaign.layout.verified
    return [
        (
            postal,
            gettext("A postal address for the footer")
            if postal
            else gettext(
                "No postal address is set: sending is refused until you add it under Settings → Organisation."
            ),
        ),
        (
            layout_ok,
            gettext("Layout “%(name)s” has every footer part", name=campaign.layout.name)
            if layout_ok and campaign.layout is not None
            else gettext(
                "The layout lacks footer parts (unsubscribe and preference links, postal address, "
                "organisation)."
            ),
        ),
        (
            bool(campaign.lists or campaign.segments),
            gettext("At least one list or segment chosen")
            if campaign.lists or campaign.segments
            else gettext("No list chosen."),
        ),
    ]
