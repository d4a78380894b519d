"""Per-recipient-domain throttles and the warm-up of a new sending domain, checked before each message.

SEND_DOMAIN_THROTTLES caps the messages a minute to groups of recipient domains, e.g.
"gmail.com+googlemail.com=600/min; outlook.com+hotmail.com+live.com=300/min": a token bucket per group in
Redis, shared by every worker (ratelimit.py's), or in this process in embedded mode. SEND_WARMUP names new
sending (From) domains and the day their warm-up began, e.g. "news.example.com=2026-12-01"; on warm-up day k
the domain may send SEND_WARMUP_SCHEDULE[k] messages (50, 100, 200 … by default; no cap after the last
step), counted per UTC day in Redis. A message over either limit goes back to the queue unsent (its attempt
does not count) with a not-before time: the next token of its group, or the next UTC midnight for the
warm-up, whose wait the campaign page shows as "waiting for warm-up allowance".
"""

import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import redis
from flask import current_app
from redis.exceptions import RedisError

from mailer.core.clock import utcnow
from mailer.delivery.ratelimit import LocalBucket, RedisBucket

WARMUP_REASON = "waiting for warm-up allowance"
_THROTTLE = re.compile(r"^\s*([a-z0-9.+-]+)\s*=\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|min|h|hour)\s*$", re.I)
_PER_SECOND = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}

# KEYS[1] = today's counter of a warming domain; ARGV = wanted, allowance. Returns how many may go.
_WARMUP_SCRIPT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.max(0, math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used))
if grant > 0 then
  redis.call('INCRBY', KEYS[1], grant)
  redis.call('EXPIRE', KEYS[1], 172800)
end
return grant
"""


class ThrottleSettingError(ValueError):
    """SEND_DOMAIN_THROTTLES, SEND_WARMUP or SEND_WARMUP_SCHEDULE cannot be read."""


@dataclass(frozen=True)
class DomainGroup:
    """Recipient domains that share one cap (one mailbox provider's domains)."""

    label: str  # "gmail.com+googlemail.com"
    domains: frozenset[str]
    per_second: float


def parse_throttles(text: str) -> list[DomainGroup]:
    """SEND_DOMAIN_THROTTLES as groups; a clear error for anything it cannot read."""
    groups = []
    for part in filter(str.strip, (text or "").split(";")):
        match = _THROTTLE.match(part)
        if not match:
            raise ThrottleSettingError(
                f"SEND_DOMAIN_THROTTLES: cannot read “{part.strip()}”; "
                "write e.g. gmail.com+googlemail.com=600/min"
            )
        domains, count, unit = match.groups()
        names = frozenset(d.strip().lower() for d in domains.split("+") if d.strip())
        if float(count) <= 0:
            raise ThrottleSettingError(f"SEND_DOMAIN_THROTTLES: the cap of {domains} must be above 0")
        groups.append(DomainGroup("+".join(sorted(names)), names, float(count) / _PER_SECOND[unit.lower()]))
    return groups


def parse_warmup(text: str, schedule: str) -> tuple[dict[str, date], tuple[int, ...]]:
    """SEND_WARMUP (domain=YYYY-MM-DD; …) and SEND_WARMUP_SCHEDULE (daily allowances, comma-separated)."""
    try:
        steps = tuple(int(step) for step in (schedule or "").split(",") if step.strip())
    except ValueError:
        raise ThrottleSettingError("SEND_WARMUP_SCHEDULE: write whole numbers, e.g. 50,100,200,400") from None
    if not steps or min(steps) < 1:
        raise ThrottleSettingError("SEND_WARMUP_SCHEDULE needs at least one daily allowance above 0")
    starts = {}
    for part in filter(str.strip, (text or "").split(";")):
        domain, _, day = part.partition("=")
        try:
            starts[domain.strip().lower()] = date.fromisoformat(day.strip())
        except ValueError:
            raise ThrottleSettingError(
                f"SEND_WARMUP: cannot read “{part.strip()}”; write e.g. news.example.com=2026-12-01"
            ) from None
    return starts, steps


def check_limit_settings(config) -> None:
    """Raise ThrottleSettingError (at start) when the throttle or warm-up settings cannot be read."""
    parse_throttles(config.get("SEND_DOMAIN_THROTTLES", ""))
    parse_warmup(config.get("SEND_WARMUP", ""), config.get("SEND_WARMUP_SCHEDULE", "50"))


def allowance(start: date, today: date, steps: tuple[int, ...]) -> int | None:
    """Messages the domain may send today (None: warm-up over, no cap)."""
    day = (today - start).days
    if day < 0:
        return steps[0]
    return steps[day] if day < len(steps) else None


def next_midnight(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time())


class _LocalWarmup:
    """Counters of today's sends per domain in this process (embedded mode)."""

    def __init__(self):
        self.used: dict[str, int] = {}
        self.lock = threading.Lock()

    def take(self, key: str, wanted: int, limit: int) -> int:
        with self.lock:
            grant = max(0, min(wanted, limit - self.used.get(key, 0)))
            self.used[key] = self.used.get(key, 0) + grant
            return grant


class _RedisWarmup:
    def __init__(self, client) -> None:
        self.script = client.register_script(_WARMUP_SCRIPT)

    def take(self, key: str, wanted: int, limit: int) -> int:
        return int(self.script(keys=[key], args=[wanted, limit]))


class Throttles:
    """The app's domain caps and warm-up counters (built once per app from its settings)."""

    def __init__(self, app):
        config = app.config
        self.groups = parse_throttles(config.get("SEND_DOMAIN_THROTTLES", ""))
        self.starts, self.steps = parse_warmup(
            config.get("SEND_WARMUP", ""), config.get("SEND_WARMUP_SCHEDULE", "50")
        )
        self.by_domain = {domain: group for group in self.groups for domain in group.domains}
        self.namespace = config["REDIS_NAMESPACE"]
        client = None
        if config["REDIS_URL"] and (self.groups or self.starts):
            client = redis.Redis.from_url(config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)
        self.buckets = {
            group.label: RedisBucket(client, f"{self.namespace}-domain-rate-{group.label}", group.per_second)
            if client is not None
            else LocalBucket(group.per_second)
            for group in self.groups
        }
        self.warmup = _RedisWarmup(client) if client is not None else _LocalWarmup()

    @property
    def active(self) -> bool:
        return bool(self.groups or self.starts)

    def recipient_wait(self, email: str) -> tuple[datetime, str] | None:
        """None when a message to this address may go now; else until when it waits, and why."""
        group = self.by_domain.get(email.rpartition("@")[2].lower())
        if group is None:
            return None
        try:
            granted, wait = self.buckets[group.label].take(1)
        except RedisError:
            granted, wait = 0, 2.0
        if granted:
            return None
        return utcnow() + timedelta(seconds=max(wait, 0.05)), f"waiting for the {group.label} throttle"

    def warmup_grant(self, sending_domain: str, wanted: int) -> tuple[int, str]:
        """How many of `wanted` messages the sending domain may still send today, and the wait's reason."""
        start = self.starts.get(sending_domain.lower())
        if start is None or not wanted:
            return wanted, ""
        today = utcnow().date()
        limit = allowance(start, today, self.steps)
        if limit is None:
            return wanted, ""
        key = f"{self.namespace}-warmup-{sending_domain.lower()}-{today.isoformat()}"
        try:
            granted = self.warmup.take(key, wanted, limit)
        except RedisError:
            granted = 0
        day = (today - start).days + 1
        return granted, f"{WARMUP_REASON}: {sending_domain} sends {limit:,} messages on warm-up day {day}"


def throttles() -> Throttles:
    """The app's throttles (built once per app)."""
    found = current_app.extensions.get("mailer.throttles")
    if found is None:
        found = current_app.extensions["mailer.throttles"] = Throttles(current_app)
    return found
