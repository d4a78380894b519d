"""Rate caps that are not per-request limits: confirmation emails per address and per domain (J2).

Backed by the same storage as the request limiter: Redis when configured, else process memory.
"""

from flask import current_app
from limits import parse, storage, strategies


def init_app(app) -> None:
    """Create the shared rate-limit storage for this app."""
    uri = app.config["REDIS_URL"] or "memory://"
    options = {"key_prefix": f"{app.config['REDIS_NAMESPACE']}-limits"} if app.config["REDIS_URL"] else {}
    app.extensions["mailer.throttle"] = strategies.MovingWindowRateLimiter(
        storage.storage_from_string(uri, **options)
    )


def allow(limit: str, *identifiers: str) -> bool:
    """Count one hit against a limit such as "1 per 24 hours"; False when the limit is exhausted."""
    limiter = current_app.extensions["mailer.throttle"]
    return limiter.hit(parse(limit), "mailer", *identifiers)


def allow_all(*checks: tuple[str, tuple[str, ...]]) -> bool:
    """Count one hit against every (limit, identifiers) pair only if none is exhausted.

    A refusal by one cap must not use up another (e.g. the domain cap eating the address's daily email).
    """
    limiter = current_app.extensions["mailer.throttle"]
    parsed = [(parse(limit), identifiers) for limit, identifiers in checks]
    if not all(limiter.test(item, "mailer", *identifiers) for item, identifiers in parsed):
        return False
    hits = [limiter.hit(item, "mailer", *identifiers) for item, identifiers in parsed]  # every one counts
    return all(hits)
