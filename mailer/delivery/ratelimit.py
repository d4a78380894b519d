"""The global send rate: a token bucket every worker on every host draws from (Redis), or one per process.

Workers take tokens a few at a time, so the bucket costs one Redis round trip per handful of messages.
The clock is Redis's own (TIME inside the script), so hosts with skewed clocks still share one rate.
"""

import logging
import threading
import time
from collections.abc import Callable

import redis
from flask import current_app
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS[1] = bucket; ARGV = rate per second, capacity, tokens wanted. Returns {granted, ms until one more
# token}.
_TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 60000)
local wait = 0
if granted < wanted then wait = math.ceil((1 - tokens) / rate * 1000) end
return {granted, wait}
"""


def _capacity(rate: float) -> float:
    """Burst size: a fifth of a second's worth, at least one message."""
    return max(1.0, rate / 5)


class LocalBucket:
    """An in-process token bucket (embedded mode: one process does all the sending)."""

    def __init__(self, rate: float):
        self.rate = rate
        self.capacity = _capacity(rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, wanted: int) -> tuple[int, float]:
        """Up to `wanted` tokens now, and the seconds until another one is due."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            granted = min(wanted, int(self.tokens))
            self.tokens -= granted
            wait = 0.0 if granted >= wanted else (1 - self.tokens) / self.rate
            return granted, wait


class RedisBucket:
    """A token bucket in Redis shared by every worker process and host."""

    def __init__(self, client, key: str, rate: float):
        self.rate = rate
        self.capacity = _capacity(rate)
        self.key = key
        self.script = client.register_script(_TAKE_SCRIPT)

    def take(self, wanted: int) -> tuple[int, float]:
        granted, wait_ms = self.script(keys=[self.key], args=[self.rate, self.capacity, wanted])
        return int(granted), int(wait_ms) / 1000


class SendRate:
    """Blocks a sender until the global rate allows more messages."""

    may_wait = True

    def __init__(self, bucket):
        self.bucket = bucket

    def block_size(self, remaining: int) -> int:
        """How many tokens to ask for at once: about 1/50 s worth, so workers share the bucket fairly."""
        return max(1, min(remaining, int(self.bucket.rate / 50) or 1, int(self.bucket.capacity)))

    def acquire(
        self,
        wanted: int,
        should_stop: Callable[[], bool] = lambda: False,
        before_wait: Callable[[], None] = lambda: None,
    ) -> int:
        """Wait for between 1 and `wanted` tokens; 0 when should_stop() turned true while waiting.

        before_wait() runs once before the first wait (the caller finishes an open SMTP transaction). When
        Redis is unreachable (a restart) it waits and asks again: an outage delays the send, it never fails
        it.
        """
        wanted = self.block_size(wanted)
        waited = False
        outage = 0
        while True:
            try:
                granted, wait = self.bucket.take(wanted)
                outage = 0
            except RedisError as exc:
                outage += 1
                if outage == 1:
                    log.warning("The send-rate bucket in Redis is unreachable (%s); waiting for it", exc)
                granted, wait = 0, min(0.2 * outage, 2.0)
            if granted:
                return granted
            if should_stop():
                return 0
            if not waited:
                before_wait()
                waited = True
            time.sleep(min(max(wait, 0.001), 2.0))  # the rate limit itself: wait for the next token


class Unlimited:
    """SEND_RATE_PER_SECOND = 0: no limit."""

    may_wait = False

    @staticmethod
    def acquire(
        wanted: int,
        should_stop: Callable[[], bool] = lambda: False,
        before_wait: Callable[[], None] = lambda: None,
    ) -> int:
        return wanted


def send_rate():
    """The app's shared send-rate limiter (built once per app)."""
    app = current_app._get_current_object()
    limiter = app.extensions.get("mailer.send_rate")
    if limiter is None:
        rate = float(app.config.get("SEND_RATE_PER_SECOND") or 0)
        limiter = Unlimited() if rate <= 0 else SendRate(_bucket(app, "send-rate", rate))
        app.extensions["mailer.send_rate"] = limiter
    return limiter


class BothRates:
    """A relay's own rate within the global one: tokens from the relay's bucket, then from the global one.

    When the global bucket grants fewer than the relay's did, the rest of the relay's are not given back: the
    relay is then sent to a little slower than its rate, never faster.
    """

    may_wait = True

    def __init__(self, own, overall):
        self.own = own
        self.overall = overall

    def acquire(
        self,
        wanted: int,
        should_stop: Callable[[], bool] = lambda: False,
        before_wait: Callable[[], None] = lambda: None,
    ) -> int:
        granted = self.own.acquire(wanted, should_stop, before_wait)
        if not granted:
            return 0
        return self.overall.acquire(granted, should_stop, before_wait)


def relay_rate(name: str, rate: float, overall):
    """The limiter of a named relay with its own rate (a bucket shared by every worker, as the global one)."""
    app = current_app
    limiters = app.extensions.setdefault("mailer.relay_rates", {})
    own = limiters.get((name, rate))
    if own is None:
        own = limiters[(name, rate)] = SendRate(_bucket(app, f"relay-rate-{name}", rate))
    return own if isinstance(overall, Unlimited) else BothRates(own, overall)


def _bucket(app, name: str, rate: float):
    """A token bucket in Redis shared by every worker (when REDIS_URL is set), else one in this process."""
    if not app.config["REDIS_URL"]:
        return LocalBucket(rate)
    # Timeouts so that an unreachable Redis is an error the limiter waits out, never a hang.
    client = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)
    return RedisBucket(client, f"{app.config['REDIS_NAMESPACE']}-{name}", rate)
