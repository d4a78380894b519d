"""SMTP reply classes (RFC 3463, E2), VERP addresses, the shared send rate (the DKIM tests are in
tests/delivery/test_dkim.py)."""

import time

import pytest

from mailer.delivery import replies as bounces
from mailer.delivery.ratelimit import LocalBucket, RedisBucket, send_rate


@pytest.mark.parametrize(
    "code,text,kind",
    [
        (451, "4.3.0 Try again later", bounces.TEMPORARY),
        (421, "Service not available", bounces.TEMPORARY),
        (None, "connection refused", bounces.TEMPORARY),
        (550, "5.1.1 <x@example.net>: Recipient address rejected: User unknown", bounces.HARD),
        (550, "5.1.10 RESOLVER.ADR.RecipientNotFound", bounces.HARD),
        (552, "5.2.2 Mailbox full", bounces.SOFT),
        (550, "5.7.1 Message rejected under DMARC policy", bounces.POLICY),
        (550, "5.7.26 Unauthenticated email from example.com is not accepted", bounces.POLICY),
        (
            554,
            "5.3.4 Message too big",
            bounces.HARD,
        ),  # E2: every other 5.x.x is permanent, as in delivery reports
        (550, "Requested action not taken", bounces.HARD),
        (550, "4.2.1 Mailbox temporarily disabled", bounces.TEMPORARY),
    ],
)
def test_smtp_replies_are_classified_per_rfc_3463(code, text, kind):
    assert bounces.classify(code, text) == kind


def test_verp_address_maps_back_to_its_delivery_and_resists_forgery(app_ctx):
    address = bounces.verp_address(4711)
    assert (
        address.startswith("bounces+")
        and address.endswith("@example.com")
        and len(address.split("@")[0]) <= 64
    )
    assert bounces.delivery_id_from_verp(address) == 4711
    assert bounces.delivery_id_from_verp(f"<{address}>") == 4711
    forged = address.replace("+1267-", "+1268-")
    assert bounces.delivery_id_from_verp(forged) is None
    assert bounces.delivery_id_from_verp("someone@example.com") is None


def test_local_bucket_spends_a_burst_then_waits():
    bucket = LocalBucket(rate=10)  # capacity: a fifth of a second's worth, at least one
    granted, _ = bucket.take(5)
    assert granted == 2
    granted, wait = bucket.take(5)
    assert granted == 0 and 0 < wait <= 0.11


def test_send_rate_is_shared_by_every_limiter_on_the_same_store(app, app_ctx, backend):
    if backend == "postgres":
        import redis

        client = redis.Redis.from_url(app.config["REDIS_URL"])
        key = f"{app.config['REDIS_NAMESPACE']}-rate-test"
        one, other = RedisBucket(client, key, rate=10), RedisBucket(client, key, rate=10)  # two workers
        assert one.take(5)[0] == 2
        granted, wait = other.take(5)
        assert granted == 0 and 0 < wait <= 0.11
        client.close()
    else:
        limiter = send_rate()  # embedded: one in-process bucket for all threads
        assert limiter is send_rate() and isinstance(limiter.bucket, LocalBucket)
    started = time.monotonic()
    assert LocalBucket(rate=1000).take(1)[0] == 1 and time.monotonic() - started < 1


@pytest.mark.parametrize(
    "code,text",
    [
        (550, "5.1.1 User unknown"),
        (554, "5.3.4 Message too big"),
        (550, "Requested action not taken"),
        (552, "5.2.2 Mailbox full"),
        (550, "5.7.1 Rejected by DMARC policy"),
        (553, "5.6.0 Bad content"),
    ],
)
def test_a_refusal_now_and_a_bounce_later_are_judged_alike(code, text):
    from mailer.deliverability import bounces as reports

    later = reports.classify("", f"{code} {text}")  # the same answer, arriving as a delivery report
    assert (
        bounces.classify(code, text)
        == {reports.HARD: bounces.HARD, reports.POLICY: bounces.POLICY, reports.SOFT: bounces.SOFT}[later]
    )
