"""The SMTP transport against a real aiosmtpd server: STARTTLS, implicit TLS, AUTH, reused connections,
reconnects."""

import datetime
import ipaddress
import smtplib
import ssl

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailer.delivery.transport import SmtpSettings, SMTPTransport
from tests.support.smtp import SmtpCapture, _free_port, _Handler

RAW = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A throw-away self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return folder / "cert.pem", folder / "key.pem"


class CountingHandler(_Handler):
    """Records every message and counts SMTP sessions (connections)."""

    def __init__(self, capture):
        super().__init__(capture)
        self.sessions = set()
        self.logins = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions.add(session.peer)  # one entry per TCP connection (STARTTLS starts a new session)
        session.host_name = hostname
        return responses


def _authenticator(logins):
    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"mailer" and auth_data.password == b"s3cret pass"
        logins.append((auth_data.login, ok))
        return (
            AuthResult(success=True)
            if ok
            else AuthResult(
                success=False, handled=False, message="535 5.7.8 Authentication credentials invalid"
            )
        )

    return check


def _start(capture, handler, **kwargs):
    controller = Controller(handler, hostname="127.0.0.1", port=capture.port, **kwargs)
    controller.start()
    return controller


def _server_context(tls_files):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, tls_files))
    return context


def test_starttls_with_auth_delivers_and_reuses_one_connection(tls_files):
    capture = SmtpCapture()
    handler = CountingHandler(capture)
    controller = _start(
        capture,
        handler,
        tls_context=_server_context(tls_files),
        require_starttls=True,
        auth_require_tls=True,
        authenticator=_authenticator(handler.logins),
    )
    try:
        url = f"smtp://mailer:s3cret%20pass@127.0.0.1:{capture.port}?starttls=1&verify=0"
        transport = SMTPTransport(SmtpSettings(url, timeout=10))
        replies = [transport.send("bounce@example.com", ["b@example.com"], RAW) for _ in range(3)]
        transport.close()
    finally:
        controller.stop()
    assert [r.code for r in replies] == [250, 250, 250]
    assert len(capture.messages) == 3 and capture.messages[0].rcpt_tos == ["b@example.com"]
    assert handler.logins == [(b"mailer", True)]  # logged in once: the connection was reused
    assert len(handler.sessions) == 1


def test_wrong_password_is_an_smtp_error_not_a_silent_success(tls_files):
    capture = SmtpCapture()
    handler = CountingHandler(capture)
    # Only PLAIN offered: smtplib would otherwise retry with LOGIN, which aiosmtpd answers differently.
    controller = _start(
        capture,
        handler,
        tls_context=_server_context(tls_files),
        require_starttls=True,
        authenticator=_authenticator(handler.logins),
        auth_exclude_mechanism=["LOGIN"],
    )
    try:
        url = f"smtp://mailer:wrong@127.0.0.1:{capture.port}?starttls=1&verify=0&timeout=5"
        transport = SMTPTransport(SmtpSettings(url))
        with pytest.raises(smtplib.SMTPAuthenticationError):
            transport.send("bounce@example.com", ["b@example.com"], RAW)
    finally:
        controller.stop()
    assert capture.messages == []


def test_certificate_is_verified_unless_told_otherwise(tls_files):
    capture = SmtpCapture()
    controller = _start(capture, CountingHandler(capture), tls_context=_server_context(tls_files))
    try:
        transport = SMTPTransport(SmtpSettings(f"smtp://127.0.0.1:{capture.port}?starttls=1"))
        with pytest.raises(ssl.SSLCertVerificationError):
            transport.send("bounce@example.com", ["b@example.com"], RAW)
    finally:
        controller.stop()
    assert capture.messages == []


def test_implicit_tls_smtps(tls_files):
    capture = SmtpCapture()
    controller = _start(capture, CountingHandler(capture), ssl_context=_server_context(tls_files))
    try:
        transport = SMTPTransport(SmtpSettings(f"smtps://127.0.0.1:{capture.port}?verify=0"))
        assert transport.send("bounce@example.com", ["b@example.com"], RAW).code == 250
        transport.close()
    finally:
        controller.stop()
    assert len(capture.messages) == 1


def test_reconnects_when_the_server_dropped_the_connection():
    capture = SmtpCapture()
    handler = CountingHandler(capture)
    controller = _start(capture, handler)
    transport = SMTPTransport(SmtpSettings(capture.url))
    transport.send("bounce@example.com", ["b@example.com"], RAW)
    controller.stop()  # the server goes away (idle timeout, restart …) while we hold the connection
    controller = _start(capture, handler)
    try:
        assert transport.send("bounce@example.com", ["b@example.com"], RAW).code == 250
        transport.close()
    finally:
        controller.stop()
    assert len(capture.messages) == 2 and len(handler.sessions) == 2


def test_refused_recipient_raises_with_code_and_connection_stays_usable():
    capture = SmtpCapture()
    capture.rcpt_replies["gone@example.com"] = "550 5.1.1 No such user"
    controller = _start(capture, CountingHandler(capture))
    try:
        transport = SMTPTransport(SmtpSettings(capture.url))
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            transport.send("bounce@example.com", ["gone@example.com"], RAW)
        assert refused.value.recipients["gone@example.com"][0] == 550
        assert transport.send("bounce@example.com", ["b@example.com"], RAW).code == 250
        transport.close()
    finally:
        controller.stop()
    assert [m.rcpt_tos for m in capture.messages] == [["b@example.com"]]


def test_unreachable_server_fails_fast():
    transport = SMTPTransport(SmtpSettings(f"smtp://127.0.0.1:{_free_port()}?timeout=2"))
    with pytest.raises(OSError):
        transport.send("bounce@example.com", ["b@example.com"], RAW)


def test_settings_parse_every_part_of_the_url():
    s = SmtpSettings("smtps://us%40er:p%3Ass@relay.example.com:2465?verify=0&timeout=7&helo=mx.example.com")
    assert (s.implicit_tls, s.host, s.port, s.username, s.password) == (
        True,
        "relay.example.com",
        2465,
        "us@er",
        "p:ss",
    )
    assert (s.verify, s.timeout, s.local_hostname, s.starttls) == (False, 7.0, "mx.example.com", False)
    with pytest.raises(ValueError):
        SmtpSettings("http://relay.example.com")
