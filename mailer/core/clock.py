"""Time helpers: the database stores naive UTC timestamps everywhere."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Current time as a naive UTC datetime (the form every column uses)."""
    return datetime.now(UTC).replace(tzinfo=None)
