"""DKIM signatures verified by dkimpy, SMTP reply classes (RFC 3463, E2), VERP addresses, the shared send rate."""

import re
import time

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailer.delivery import replies as bounces
from mailer.delivery.dkim import DkimSigner, public_key_record
from mailer.delivery.ratelimit import LocalBucket, RedisBucket, send_rate
from mailer.delivery.skeleton import MessageSkeleton


@pytest.fixture(scope="module")
def signer():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DkimSigner("example.com", "sel", pem)


def _verify(signer, data: bytes) -> bool:
    record = public_key_record(signer.key.public_key()).encode()
    return dkim.verify(
        data, dnsfunc=lambda name, timeout=5: record if name == b"sel._domainkey.example.com." else None
    )


def test_signature_verifies_with_dkimpy_for_awkward_messages(signer):
    skeleton = MessageSkeleton(
        from_name="Zoë’s News",
        from_email="news@example.com",
        reply_to="help@example.com",
        feedback_id="c1:marketing:mailer:example",
    )
    long_url = "https://mail.example.com/u/" + "A" * 180
    raw = skeleton.build(
        to_email="ann@example.net",
        to_name='Ann "the Reader" Lee',
        subject="Grüße, Ann " + "x" * 90,
        message_id=skeleton.message_id("7"),
        unsubscribe_url=long_url,
        text="Line with trailing spaces   \n\n\nTabs\tand  runs\n\n\n",
        html="<p>Ünïcödé · " + "y" * 2000,
    )
    signed = signer.sign(raw)
    assert _verify(signer, signed)
    assert (
        long_url.encode() in signed and b"=?" not in signed.split(b"List-Unsubscribe: ")[1].split(b"\r\n")[0]
    )
    assert all(len(line) <= 998 for line in signed.split(b"\r\n"))
    assert not _verify(signer, signed.replace(b"Line with", b"Line wiht"))  # the body changed: fails
    header = signed.split(b"\r\n\r\n")[0].decode()
    assert "list-unsubscribe-post" in header and "feedback-id" in header and " l=" not in header


@pytest.mark.parametrize(
    "text,html,relaxing_changes_it",
    [
        ("Plain lines\nonly\n", "<p>Clean</p>\n<p>lines</p>", False),
        (
            "Trailing  \n\tTabbed · and  runs\n.dot first\n\n\n",
            "<p>Ann  Lee </p>\n.lead{color:red}\n<p>\tx</p>",
            True,
        ),
        (
            "é" * 300 + " \n",
            "<p>" + "z " * 700 + "</p>\n",
            False,
        ),  # quoted-printable encodes the trailing spaces
    ],
)
def test_the_skeletons_line_flags_let_signing_and_smtp_skip_their_scans_safely(
    signer, text, html, relaxing_changes_it
):
    from mailer.delivery.skeleton import LEADING_DOT, WSP_CHANGE
    from mailer.delivery.transport import _dot_stuffed

    skeleton = MessageSkeleton(from_name="News", from_email="news@example.com")
    for _ in range(2):  # the second time every line comes from the cache
        raw, flags = skeleton.assemble(
            to_email="a@example.net",
            to_name="Ann",
            subject="Hi",
            message_id=skeleton.message_id("1"),
            unsubscribe_url="https://m.example/u/a",
            text=text,
            html=html,
        )
        signed = signer.sign(raw, body_is_relaxed=not flags & WSP_CHANGE)
        body_hash = re.search(rb"bh=([^;]+);", signed).group(1)
        assert body_hash == re.search(rb"bh=([^;]+);", signer.sign(raw)).group(1)  # same as the full pass
        assert _verify(signer, signed)
        assert _dot_stuffed(signed, dot_safe=not flags & LEADING_DOT) == _dot_stuffed(signed)
        assert all(len(line) <= 998 for line in signed.split(b"\r\n"))
    assert bool(flags & WSP_CHANGE) == relaxing_changes_it


def test_dkimpy_rejects_a_tampered_unsubscribe_header(signer):
    skeleton = MessageSkeleton(from_name="News", from_email="news@example.com")
    raw = skeleton.build(
        to_email="a@example.net",
        to_name=None,
        subject="Hi",
        message_id=skeleton.message_id("1"),
        unsubscribe_url="https://mail.example.com/u/abc",
        text="hi\n",
        html="<p>hi</p>",
    )
    signed = signer.sign(raw)
    assert _verify(signer, signed)
    assert not _verify(signer, signed.replace(b"/u/abc", b"/u/evil"))


def test_signer_refuses_short_keys():
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="2048"):
        DkimSigner("example.com", "old", pem)


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
