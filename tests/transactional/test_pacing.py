"""Transactional mail is paced by SEND_RATE_PER_SECOND, the one bucket campaigns draw from (real SMTP)."""

import time

import pytest

from mailer.campaigns import lifecycle as campaigns
from mailer.core.extensions import db
from mailer.transactional import operations as tx
from mailer.transactional.models import TxMessage
from tests.support.campaigns import deliveries, newsletter
from tests.transactional.helpers import SETTINGS, reset_template

RATE = 4  # messages per second; the bucket holds at most one token (a fifth of a second's worth, at least 1)


def _order(i: int) -> tx.Accepted:
    payload = {"template": "password-reset", "email": f"buyer{i}@example.org", "data": {"code": f"{i:06}"}}
    return tx.accept(payload, template_key="password-reset", email=payload["email"], data=payload["data"])


@pytest.mark.config(**SETTINGS, SEND_RATE_PER_SECOND=RATE)
def test_transactional_mail_alone_is_paced(app_ctx, worker, smtp_server):
    reset_template()
    db.session.commit()
    started = time.monotonic()
    for i in range(5):
        _order(i)
    worker.drain()

    arrived = sorted(m.at for m in smtp_server.messages)
    assert len(arrived) == 5
    # Five messages from a bucket that refills 4 tokens a second and holds one: the fifth cannot leave
    # before 4 / 4 = 1 s after the first token (unpaced, all five leave within a few milliseconds).
    assert arrived[-1] - started >= (5 - 1) / RATE


@pytest.mark.config(**SETTINGS, SEND_RATE_PER_SECOND=RATE, SEND_CHUNK_SIZE=5)
def test_transactional_mail_and_a_campaign_share_the_global_send_rate(app_ctx, worker, smtp_server):
    reset_template()
    campaign, contacts = newsletter(6)
    started = time.monotonic()
    campaigns.start_campaign(campaign)
    db.session.commit()
    for i in range(6):
        _order(i)
    worker.drain()

    received = {m.rcpt_tos[0]: m.at for m in smtp_server.messages}
    assert sorted(received) == sorted(
        [c.email for c in contacts] + [f"buyer{i}@example.org" for i in range(6)]
    )
    assert {d.status for d in deliveries(campaign)} == {"sent"}
    assert {m.status for m in db.session.execute(db.select(TxMessage)).scalars()} == {"sent"}
    # Twelve messages through one bucket of 4 a second: the last leaves at least 11 / 4 = 2.75 s after the
    # start. With a bucket each (or transactional mail unpaced) both would be done after about 1.25 s.
    assert max(received.values()) - started >= (12 - 1) / RATE
