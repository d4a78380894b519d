"""DKIM signatures verified by dkimpy: awkward messages, the skeleton's line flags, tampering, short keys."""

import re

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailer.delivery.dkim import DkimSigner, public_key_record
from mailer.delivery.skeleton import LEADING_DOT, WSP_CHANGE, MessageSkeleton
from mailer.delivery.transport import _dot_stuffed


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
