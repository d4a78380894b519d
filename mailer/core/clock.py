"""Time helpers: the database stores naive UTC timestamps everywhere."""

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Current time as a naive UTC datetime (the form every column uses)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
