"""A campaign's test goes out through the relays its real send will use (the campaign's relay, else the
default relay), so a test shows what that relay does to the message."""

from mailer.campaigns import lifecycle
from mailer.core.extensions import db
from mailer.delivery.relays import RelayFields, TlsMode, save_relay
from tests.support.campaigns import make_campaign, wait_for
from tests.support.processes import free_port
from tests.support.relay import RecordingRelay


def test_a_test_send_goes_through_the_campaigns_relay(app_ctx, demo_form, worker, smtp_server):
    relay = RecordingRelay(free_port())
    relay.start()
    try:
        named = save_relay(
            None, RelayFields(name="newsletters", host="127.0.0.1", port=relay.port, tls_mode=TlsMode.NONE)
        )
        chosen = make_campaign(demo_form.lists, relay_id=named.id)
        default = make_campaign(demo_form.lists)
        db.session.commit()

        lifecycle.send_test(chosen, ["me@example.com"])
        lifecycle.send_test(default, ["boss@example.com"])
        db.session.commit()
        worker.drain()

        wait_for(lambda: len(relay.snapshot()[0]) == 1, timeout=60, what="the test at the campaign's relay")
        assert [m.rcpt for m in relay.snapshot()[0]] == ["me@example.com"]
        assert smtp_server.to("me@example.com") == []  # not through the default relay
        [other] = smtp_server.to("boss@example.com")  # a campaign without a relay: the default one
        assert other.message["Subject"].startswith("[TEST]")
    finally:
        relay.close()
