"""Named relays and failover through real SMTP: two aiosmtpd relays on loopback, the first one failing.

Every recipient must be accepted exactly once overall (counted per relay), and every delivery must say which
relay accepted it: failover never loses a message and never sends one twice.
"""

from collections import Counter

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.delivery import outgoing
from mailer.delivery.failover import UnknownRelayError, relay_route
from mailer.delivery.relays import Relay, RelayFields, TlsMode, save_relay
from tests.support.campaigns import deliveries, newsletter
from tests.support.relay import RecordingRelay
from tests.support.smtp import _free_port

pytestmark = [
    pytest.mark.config(SEND_RATE_PER_SECOND=0, SEND_BATCH_SIZE=20, SEND_CHUNK_SIZE=10),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]


@pytest.fixture
def relays():
    """Two recording relays, "primary" and "backup", on free loopback ports (stopped afterwards)."""
    made = {"primary": RecordingRelay(_free_port()), "backup": RecordingRelay(_free_port())}
    yield made
    for relay in made.values():
        relay.close()


def _named(
    name: str, relay: RecordingRelay, username: str = "", password: str = "", rate: float = 0.0
) -> Relay:
    fields = RelayFields(
        name=name,
        host="127.0.0.1",
        port=relay.port,
        tls_mode=TlsMode.NONE,
        username=username,
        password=password,
        rate_per_second=rate,
    )
    return save_relay(None, fields)


def _send(campaign: Campaign, first: Relay, second: Relay | None, worker) -> None:
    campaign.relay_id = first.id
    campaign.failover_relay_id = second.id if second is not None else None
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()


def _accepted(relay: RecordingRelay) -> list[str]:
    return [message.rcpt for message in relay.snapshot()[0]]


def test_primary_stopped_mid_campaign_fails_over_with_every_recipient_once(app, app_ctx, worker, relays):
    primary, backup = relays["primary"], relays["backup"]
    primary.down_after = 25  # accepts 25 messages, then stops listening and turns sessions away with 421
    primary.start()
    backup.start()
    campaign, contacts = newsletter(80)
    _send(campaign, _named("primary", primary), _named("backup", backup), worker)

    by_primary, by_backup = _accepted(primary), _accepted(backup)
    everyone = sorted(contact.email for contact in contacts)
    assert sorted(by_primary + by_backup) == everyone  # nothing lost, nothing twice
    assert len(by_primary) >= 25 and by_backup  # the first relay stopped part-way, the second took the rest
    rows = deliveries(campaign)
    assert Counter(d.status for d in rows) == {"sent": 80}
    assert Counter(d.relay for d in rows) == {"primary": len(by_primary), "backup": len(by_backup)}
    db.session.expire_all()
    finished = db.session.get(Campaign, campaign.id)
    assert finished.status == "sent" and finished.relay_failures == 0  # never waited for a relay


def test_campaign_page_says_which_relay_sent_how_many(app, auth, worker, relays):
    relays["backup"].start()  # "primary" never listens
    with app.app_context():
        campaign, _ = newsletter(12)
        _send(campaign, _named("primary", relays["primary"]), _named("backup", relays["backup"]), worker)
        public_id = campaign.public_id
    shown = auth.get(f"/admin/campaigns/{public_id}").text
    assert "Relay: primary, failing over to backup." in shown
    assert "Sent through <strong>backup</strong> 12." in shown


def test_unreachable_first_relay_sends_everything_through_the_failover(app, app_ctx, worker, relays):
    relays["backup"].start()  # "primary" never listens: every connection to it is refused
    campaign, contacts = newsletter(30)
    _send(campaign, _named("primary", relays["primary"]), _named("backup", relays["backup"]), worker)

    assert sorted(_accepted(relays["backup"])) == sorted(contact.email for contact in contacts)
    assert Counter(d.relay for d in deliveries(campaign)) == {"backup": 30}


def _login_required(password: bytes):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == password
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    return {"auth_required": True, "auth_require_tls": False, "authenticator": authenticator}


def test_relay_login_with_the_stored_password_and_failover_when_it_is_refused(app, app_ctx, worker, relays):
    primary, backup = relays["primary"], relays["backup"]
    primary.server_options = _login_required(b"s3cret pass:/@")
    backup.server_options = _login_required(b"backup-pass")
    primary.start()
    backup.start()
    first = _named("primary", primary, "mailer", "s3cret pass:/@")
    second = _named("backup", backup, "mailer", "backup-pass")
    assert b"s3cret" not in first.password_encrypted  # sealed at rest
    campaign, contacts = newsletter(10)
    _send(campaign, first, second, worker)
    assert sorted(_accepted(primary)) == sorted(contact.email for contact in contacts)

    # A wrong password is stored for the primary: its login is refused, so the backup takes the mail.
    fields = RelayFields(
        name="primary", host="127.0.0.1", port=primary.port, tls_mode=TlsMode.NONE, username="mailer"
    )
    fields.password = "mistyped"
    save_relay(first, fields)
    db.session.commit()
    again, others = newsletter(10)
    _send(again, first, second, worker)
    assert sorted(_accepted(backup)) == sorted(contact.email for contact in others)
    assert Counter(d.relay for d in deliveries(again)) == {"backup": 10}


@pytest.mark.config(SEND_PIPELINE_DEPTH=2)
def test_after_failing_over_the_failover_relays_own_rate_applies(app, app_ctx, worker, relays):
    """The first relay allows 1,000 messages a second, the failover relay 4: once the first is found down,
    messages reach the failover relay no faster than its own rate (a lower bound the limiter guarantees
    however slow the machine is). The group that found the first relay down (2 messages, the pipeline
    depth) goes on at once; the 8 after it draw from the failover relay's bucket, which holds one message:
    at least 7 × 0.25 s."""
    relays["backup"].start()  # "primary" never listens
    campaign, contacts = newsletter(10)
    first = _named("primary", relays["primary"], rate=1000)
    _send(campaign, first, _named("backup", relays["backup"], rate=4), worker)

    accepted = relays["backup"].snapshot()[0]
    assert sorted(message.rcpt for message in accepted) == sorted(contact.email for contact in contacts)
    times = sorted(message.at for message in accepted)
    assert times[-1] - times[0] >= 1.5  # at the primary's 1,000/s all 10 arrive within milliseconds


@pytest.mark.config(SEND_PIPELINE_DEPTH=10)
@pytest.mark.parametrize("primary_fails", ["at once", "mid-group"])
def test_messages_in_flight_at_the_failover_are_paced_by_the_failover_relays_rate(
    app, app_ctx, worker, relays, primary_fails
):
    """The whole campaign is one group of 10 paid for at the primary's 1,000 a second. The primary refuses
    the first connection ("at once") or accepts 3 and then turns the session away with 421 ("mid-group"):
    the messages of the group still to go, offered to it or not yet, move to the failover relay, and each
    takes a token of its 4 a second there (its bucket holds one). Before, they all arrived within
    milliseconds and only the next group was paced."""
    primary, backup = relays["primary"], relays["backup"]
    if primary_fails == "mid-group":
        primary.down_after = 3
        primary.start()
    backup.start()
    campaign, contacts = newsletter(10)
    _send(campaign, _named("primary", primary, rate=1000), _named("backup", backup, rate=4), worker)

    moved = backup.snapshot()[0]
    assert sorted(_accepted(primary) + [m.rcpt for m in moved]) == sorted(c.email for c in contacts)
    assert len(moved) >= 7
    times = sorted(message.at for message in moved)
    # A lower bound however slow the machine: one token every 0.25 s after the first, whose message may
    # arrive late (the new connection) while the second's token comes due.
    assert times[-1] - times[0] >= (len(moved) - 2) * 0.25


def _notice(to_addr: str) -> outgoing.Outgoing:
    """One message outside the campaign engine (as a journey step or a notice sends it)."""
    return outgoing.Outgoing(
        kind=outgoing.MessageKind.CONFIRMATION,
        sender=outgoing.parse_sender("News <news@example.com>"),
        to_addr=to_addr,
        to_name=None,
        subject="Welcome",
        html="<p>Welcome</p>",
        text="Welcome\n",
    )


def test_any_sender_chooses_relays_by_name_or_id_and_fails_over(app, app_ctx, relays):
    """The relay chooser is not the campaign's alone: a sender outside the engine picks a relay and a failover
    relay by name (or id), and its one message goes through them with the same failover rule."""
    backup = relays["backup"]
    backup.start()  # "primary" never listens
    first, second = _named("primary", relays["primary"]), _named("backup", backup, rate=50)
    db.session.commit()

    route = relay_route("primary", "backup")
    message_id = outgoing.send(_notice("ann@example.net"), route=route)
    assert message_id and _accepted(backup) == ["ann@example.net"]
    assert "primary" in route.down  # the first relay is skipped for a while by this process

    by_id = relay_route(first.id, second.id)
    reply = by_id.send(
        "bounces@example.com", "bob@example.net", outgoing.compose(_notice("bob@example.net")).raw
    )
    assert (reply.code, reply.relay) == (250, "backup")
    assert _accepted(backup) == ["ann@example.net", "bob@example.net"]

    assert relay_route(None) is None and relay_route("default") is None  # the default relay: send as before
    with pytest.raises(UnknownRelayError, match="There is no relay named “primry”"):
        relay_route("primry", "backup")


def test_a_sender_without_failover_gets_the_relays_refusal(app, app_ctx, relays):
    _named("primary", relays["primary"])  # never listens
    db.session.commit()
    with pytest.raises(OSError):
        outgoing.send(_notice("ann@example.net"), route=relay_route("primary"))
