"""A campaign's route through its chosen relay and, when that one is down, its failover relay.

A relay is down for a message when the message could not even be offered: the connection was refused or timed
out, the greeting was refused, the login failed, or the relay answered 421 (closing) to the envelope. Such a
message never reached it, so it goes to the next relay of the route at once, inside the same hand-over. A
message whose content went out and whose answer never came (NoReply) is uncertain and is never offered again,
and every message is reported exactly once: failover keeps the engine's exactly-once accounting (claims.py).
A relay found down is skipped by this process for RELAY_DOWN_SECONDS, then tried first again. Messages are
paced by the rate of the relay in use (`FailoverPipeline.limiter`): after a failover the failover relay's own
rate applies, as its own credentials do, to the messages in flight at that moment (offered to the relay found
down, or paid for there and not yet offered) as much as to later ones: each takes a token of its new relay.
"""

import logging
import smtplib
import time
from dataclasses import dataclass, field, replace
from typing import Any

from flask import current_app

from mailer.core.extensions import db
from mailer.delivery.ratelimit import relay_rate, send_rate
from mailer.delivery.relays import DEFAULT_RELAY_NAME, Relay, relay_by_name
from mailer.delivery.replies import outcome_of
from mailer.delivery.transport import NoReply, SmtpReply, SmtpSettings, SMTPTransport, get_transport

log = logging.getLogger(__name__)
RELAY_DOWN_SECONDS = 30.0
_REFUSED_AT_CONNECT = (smtplib.SMTPConnectError, smtplib.SMTPAuthenticationError, smtplib.SMTPHeloError)


@dataclass(frozen=True)
class Hop:
    """One relay of a route: its name (recorded on the deliveries it accepts) and its transport."""

    name: str
    transport: Any
    rate: float = 0.0  # its own messages per second (0: only the global rate)

    def limiter(self):
        """What paces messages to this relay: its own rate within the global one, or the global one alone."""
        return relay_rate(self.name, self.rate, send_rate()) if self.rate > 0 else send_rate()


@dataclass
class Route:
    """The relays a campaign sends through, first choice first."""

    hops: list[Hop]
    down: dict[str, float] = field(default_factory=dict)  # relay name -> monotonic time it is skipped until

    def pipeline(self) -> "FailoverPipeline":
        return FailoverPipeline(self)

    def first_up(self) -> int:
        """The index of the first relay not known to be down (the first one when all are)."""
        now = time.monotonic()
        return next((i for i, hop in enumerate(self.hops) if self.down.get(hop.name, 0.0) <= now), 0)

    def mark_down(self, index: int, outcome: Exception) -> None:
        """The relay at `index` could not take a message: skip it for a while, the next one takes over."""
        failed = self.hops[index]
        self.down[failed.name] = time.monotonic() + RELAY_DOWN_SECONDS
        code = outcome_of(outcome).code
        log.warning(
            "Relay %s is down (%s%s); failing over to relay %s",
            failed.name,
            outcome.__class__.__name__,
            f", {code}" if code else "",
            self.hops[index + 1].name,
        )

    def send(self, mail_from: str, rcpt: str, raw: bytes, **metadata) -> SmtpReply:
        """One message through the route, for any sender outside the campaign engine (a journey step, a
        notice): paced by the rate of the relay in use, offered to the next relay when one could not take it
        at all, never offered twice once its content went out. The reply names the relay that accepted it;
        a refusal (or NoReply) is raised as by a transport."""
        index = self.first_up()
        while True:
            hop = self.hops[index]
            hop.limiter().acquire(1)
            try:
                reply = hop.transport.send(mail_from, [rcpt], raw, **metadata)
            except (smtplib.SMTPException, OSError) as exc:
                if index + 1 < len(self.hops) and relay_down(exc):
                    self.mark_down(index, exc)
                    index += 1
                    continue
                raise
            return replace(reply, relay=hop.name)


def relay_down(outcome) -> bool:
    """Whether a message's outcome says the relay could not take it at all (so it may go to another one)."""
    if not isinstance(outcome, Exception) or isinstance(outcome, NoReply):
        return False
    if isinstance(outcome, _REFUSED_AT_CONNECT):
        return True
    code = outcome_of(outcome).code
    return code is None or code == 421


class FailoverPipeline:
    """The Pipeline interface (submit / finish) over a route: offered to the first relay that is up."""

    def __init__(self, route: Route):
        self.route = route
        self.index = route.first_up()
        self.pipeline = route.hops[self.index].transport.pipeline()
        # Messages offered and not yet settled, by the identity of their key (keys need not be hashable).
        self.offered: dict[int, tuple[str, str, bytes, bool]] = {}
        self.paid_at = self.index  # the relay whose limiter the engine last drew this group's tokens from

    @property
    def hop(self) -> Hop:
        """The relay messages are offered to now (the next one of the route once this one was found down)."""
        return self.route.hops[self.index]

    def limiter(self):
        """The rate of the relay in use: after a failover, the failover relay's own rate, not the first's."""
        self.paid_at = self.index
        return self.hop.limiter()

    def submit(
        self, key: object, mail_from: str, rcpt: str, raw: bytes, dot_safe: bool = False
    ) -> list[tuple]:
        self.offered[id(key)] = (mail_from, rcpt, raw, dot_safe)
        if self.paid_at != self.index:  # the rest of a group paid for at the relay found down
            self._pace()
        return self._settle(self.index, self.pipeline.submit(key, mail_from, rcpt, raw, dot_safe))

    def _pace(self) -> None:
        """One token from the relay in use for a message paid for at another one (it moved at a failover):
        the failover relay's rate holds for the messages in flight too, not only for later groups."""
        self.hop.limiter().acquire(1)

    def finish(self, error: Exception | None = None) -> list[tuple]:
        return self._settle(self.index, self.pipeline.finish(error))

    def _settle(self, index: int, outcomes: list[tuple]) -> list[tuple]:
        """Outcomes from the relay at `index`: a message it could not take goes on to the next relay."""
        done: list[tuple] = []
        hop = self.route.hops[index]
        for key, outcome in outcomes:
            if relay_down(outcome) and index + 1 < len(self.route.hops) and id(key) in self.offered:
                if self.index == index:
                    done += self._fail_over(outcome)
                self._pace()  # it was paid for at the relay it could not reach
                done += self._settle(self.index, self.pipeline.submit(key, *self.offered[id(key)]))
                continue
            self.offered.pop(id(key), None)
            if isinstance(outcome, SmtpReply):
                outcome = replace(outcome, relay=hop.name)
            done.append((key, outcome))
        return done

    def _fail_over(self, outcome: Exception) -> list[tuple]:
        """Leave the current relay (marked down for a while) for the next one; what it still held settles."""
        self.route.mark_down(self.index, outcome)
        self.index += 1
        previous, self.pipeline = self.pipeline, self.route.hops[self.index].transport.pipeline()
        return self._settle(self.index - 1, previous.finish())


class UnknownRelayError(ValueError):
    """A relay was chosen by a name no relay has."""


def _relay(choice: int | str | None) -> Relay | None:
    """The named relay chosen by id or name; None for the default relay (None, "default", or an id whose
    relay was removed: deleting a relay sets the choices that named it to the default, as the database does).
    """
    if choice is None or choice == DEFAULT_RELAY_NAME:
        return None
    if isinstance(choice, int):
        return db.session.get(Relay, choice)
    relay = relay_by_name(choice)
    if relay is None:
        raise UnknownRelayError(f"There is no relay named “{choice}”; the Relays page lists them.")
    return relay


def _hop(choice: int | str | None) -> Hop:
    relay = _relay(choice)
    if relay is None:
        return Hop(DEFAULT_RELAY_NAME, get_transport())
    cache = current_app.extensions.setdefault("mailer.relay_transports", {})
    key = (relay.id, relay.updated_at)
    transport = cache.get(key)
    if transport is None:
        for stale in [k for k in cache if k[0] == relay.id]:
            cache.pop(stale).close()
        settings = SmtpSettings(relay.smtp_url(), current_app.config["SMTP_TIMEOUT"])
        transport = cache[key] = SMTPTransport(settings)
    return Hop(relay.name, transport, relay.rate_per_second)


def relay_route(relay: int | str | None, failover: int | str | None = None) -> Route | None:
    """The relay chooser for every send path (campaigns, journeys, any other sender): a relay and a relay to
    fail over to, each by id, by name or None (the default relay of SMTP_URL). None when that is the default
    relay alone: send as before (`get_transport()`). A Route sends batches through `pipeline()` (the engine)
    or one message through `send()`; either way each relay's own rate and credentials apply, and a relay found
    down is skipped by this process for RELAY_DOWN_SECONDS. Raises UnknownRelayError for a name no relay has.
    """
    if _relay(relay) is None and _relay(failover) is None:
        return None
    hops: list[Hop] = []
    for chosen in (relay,) if failover is None else (relay, failover):  # no failover: never the default
        hop = _hop(chosen)
        if all(hop.name != other.name for other in hops):
            hops.append(hop)
    routes = current_app.extensions.setdefault("mailer.relay_down", {})
    return Route(hops, routes)
