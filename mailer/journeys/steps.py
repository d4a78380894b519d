"""What each kind of step needs (checked when a marketer saves it) and when a wait ends."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext, lazy_gettext

from mailer.journeys.models import StepKind
from mailer.subscriptions.manual import ContactRefused, checked_basis

WEEKDAYS = (
    lazy_gettext("Monday"),
    lazy_gettext("Tuesday"),
    lazy_gettext("Wednesday"),
    lazy_gettext("Thursday"),
    lazy_gettext("Friday"),
    lazy_gettext("Saturday"),
    lazy_gettext("Sunday"),
)
MAX_WAIT_DAYS = 365
BRANCH_ON = ("tag", "list", "field", "clicked")


class JourneyError(ValueError):
    """A journey or step could not be saved or run as asked; the message says why, in words for people."""


@dataclass
class StepInput:
    """A step as a marketer typed it (the admin form and the API both fill one)."""

    kind: str
    subject: str = ""
    preheader: str = ""
    body: str = ""
    body_format: str = "markdown"
    wait_mode: str = "duration"  # duration | until
    wait_days: int = 0
    wait_hours: int = 0
    wait_minutes: int = 0
    weekday: int = 0  # 0 = Monday
    hour: int = 9
    branch_on: str = "tag"
    tag_id: int | None = None
    list_id: int | None = None
    field_key: str = ""
    field_value: str = ""
    clicked_step_id: int | None = None
    else_step_id: int | None = None  # None: the journey ends for those who do not match
    basis: str = ""  # add to a list: double_opt_in | has_consent (with a statement of where and how)
    statement: str = ""


def clean_settings(step: StepInput) -> dict:
    """The settings stored for a step of this kind; JourneyError when something is missing or out of range."""
    kind = step.kind
    if kind not in tuple(StepKind):
        raise JourneyError(gettext("Choose what the step does."))
    if kind == StepKind.SEND:
        if not step.subject.strip():
            raise JourneyError(gettext("Write the email's subject line."))
        if not step.body.strip():
            raise JourneyError(gettext("Write the email's content."))
        if step.body_format not in ("markdown", "html"):
            raise JourneyError(gettext("The content is Markdown or HTML."))
        return {}
    if kind == StepKind.WAIT:
        if step.wait_mode == "duration":
            seconds = (step.wait_days * 24 * 60 + step.wait_hours * 60 + step.wait_minutes) * 60
            if min(step.wait_days, step.wait_hours, step.wait_minutes) < 0 or seconds <= 0:
                raise JourneyError(gettext("A wait lasts at least a minute."))
            if seconds > MAX_WAIT_DAYS * 24 * 3600:
                raise JourneyError(gettext("A wait lasts at most %(days)s days.", days=MAX_WAIT_DAYS))
            return {"mode": "duration", "seconds": seconds}
        if step.wait_mode == "until":
            if not 0 <= step.weekday <= 6 or not 0 <= step.hour <= 23:
                raise JourneyError(gettext("Choose a weekday and an hour from 0 to 23."))
            return {"mode": "until", "weekday": step.weekday, "hour": step.hour}
        raise JourneyError(gettext("Wait for a duration, or until a weekday and hour."))
    if kind == StepKind.BRANCH:
        settings: dict = {"on": step.branch_on, "else": step.else_step_id}
        if step.branch_on == "tag" and step.tag_id:
            settings["tag_id"] = step.tag_id
        elif step.branch_on == "list" and step.list_id:
            settings["list_id"] = step.list_id
        elif step.branch_on == "field" and step.field_key.strip():
            settings.update(field_key=step.field_key.strip(), value=step.field_value.strip())
        elif step.branch_on == "clicked" and step.clicked_step_id:
            settings["step_id"] = step.clicked_step_id
        else:
            raise JourneyError(
                gettext("Say what the branch checks: a tag, a list, a field's value or a click.")
            )
        return settings
    if kind in (StepKind.ADD_TAG, StepKind.REMOVE_TAG):
        if not step.tag_id:
            raise JourneyError(gettext("Choose the tag."))
        return {"tag_id": step.tag_id}
    if kind in (StepKind.ADD_LIST, StepKind.REMOVE_LIST):
        if not step.list_id:
            raise JourneyError(gettext("Choose the list."))
        if kind == StepKind.REMOVE_LIST:
            return {"list_id": step.list_id}
        try:  # the consent rule of a staff addition, written once
            statement = checked_basis(step.basis, step.statement)
        except ContactRefused as exc:
            raise JourneyError(str(exc)) from None
        return {
            "list_id": step.list_id,
            "basis": step.basis,
            **({"statement": statement} if statement else {}),
        }
    return {}


def zone(name: str | None, fallback: str) -> ZoneInfo:
    """The contact's time zone when it names a real one, else the journey's."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(str(candidate))
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def wait_until(settings: dict, now: datetime, tz: ZoneInfo) -> datetime:
    """When a wait that starts now (naive UTC) ends, as naive UTC."""
    if settings.get("mode") == "until":
        local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
        weekday, hour = int(settings["weekday"]), int(settings["hour"])
        candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
        candidate += timedelta(days=(weekday - local.weekday()) % 7)
        if candidate <= local:
            candidate += timedelta(days=7)
        # Re-attach the zone so the offset of that day (summer or winter time) is the one used.
        candidate = candidate.replace(tzinfo=None).replace(tzinfo=tz)
        return candidate.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    return now + timedelta(seconds=int(settings.get("seconds", 0)))


def describe(kind: str, settings: dict, names: dict | None = None) -> str:
    """A step in words, for the builder and the timeline."""
    names = names or {}
    if kind == StepKind.WAIT:
        if settings.get("mode") == "until":
            day, hour = WEEKDAYS[int(settings["weekday"])], int(settings["hour"])
            return gettext("Wait until %(day)s %(hour)s (contact's time)", day=day, hour=f"{hour:02d}:00")
        seconds = int(settings.get("seconds", 0))
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        parts = [
            gettext("%(days)s d", days=days) if days else "",
            gettext("%(hours)s h", hours=hours) if hours else "",
            gettext("%(minutes)s min", minutes=rest // 60) if rest >= 60 else "",
        ]
        return gettext("Wait %(duration)s", duration=" ".join(p for p in parts if p))
    if kind == StepKind.BRANCH:
        on = settings.get("on")
        tag, listed = (
            names.get(("tag", settings.get("tag_id")), "?"),
            names.get(("list", settings.get("list_id")), "?"),
        )
        what = {
            "tag": lambda: gettext("If the contact has the tag “%(tag)s”", tag=tag),
            "list": lambda: gettext("If the contact is subscribed to “%(list)s”", list=listed),
            "field": lambda: gettext(
                "If the contact's field “%(field)s” is “%(value)s”",
                field=settings.get("field_key"),
                value=settings.get("value"),
            ),
            "clicked": lambda: gettext(
                "If the contact clicked a link in an earlier email "
                "(only contacts who consented to click tracking)"
            ),
        }.get(str(on), lambda: "?")()
        if settings.get("else"):
            return gettext("%(condition)s: go on; otherwise skip ahead", condition=what)
        return gettext("%(condition)s: go on; otherwise end the journey", condition=what)
    if kind == StepKind.ADD_TAG:
        return gettext("Add the tag “%(tag)s”", tag=names.get(("tag", settings.get("tag_id")), "?"))
    if kind == StepKind.REMOVE_TAG:
        return gettext("Remove the tag “%(tag)s”", tag=names.get(("tag", settings.get("tag_id")), "?"))
    if kind in (StepKind.ADD_LIST, StepKind.REMOVE_LIST):
        name = names.get(("list", settings.get("list_id")), "?")
        if kind == StepKind.REMOVE_LIST:
            return gettext("Remove from the list “%(list)s” (withdraws that list's consent)", list=name)
        if settings.get("basis") == "has_consent":
            return gettext("Add to the list “%(list)s” on the consent obtained elsewhere", list=name)
        return gettext("Add to the list “%(list)s” after they confirm by email (double opt-in)", list=name)
    if kind == StepKind.END:
        return gettext("End the journey")
    return gettext("Send an email")
