"""What segments need from tracking, connected by the app factory.

Activity conditions (opened, clicked) read tracking's events. Tracking sits above campaigns, which target
segments, so segments cannot import it; the factory connects tracking's query here instead.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

# (kind "open" | "click", a campaign's public id or None, since or None) -> a select of the ids of contacts
# with such activity by a person (likely machine events left out), or None when there is no such campaign.
Activity = Callable[[str, str | None, datetime | None], Any]

_connected: dict[str, Any] = {}


def connect(*, activity: Activity) -> None:
    """Connect tracking's query (the app factory does, once per process; again replaces it)."""
    _connected.update(activity=activity)


def activity(kind: str, campaign: str | None, since: datetime | None) -> Any:
    """The ids of contacts with this activity (None: no such campaign)."""
    hook = _connected.get("activity")
    if hook is None:
        raise RuntimeError("tracking's activity is not connected (the app factory connects it)")
    return hook(kind, campaign, since)
