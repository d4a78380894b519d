"""DKIM private keys are encrypted at rest, still sign mail dkimpy verifies, rotate with `keys reencrypt`."""

import dkim
import pytest
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from mailer import create_app
from mailer.core.extensions import db
from mailer.delivery.dkim import public_key_record, signer_for_domain
from mailer.delivery.models import DkimKey
from tests.conftest import sql

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _pem_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def _raw_value() -> bytes:
    return bytes(sql("SELECT private_key_encrypted FROM dkim_keys").scalar_one())


def _verifies(domain: str, selector: str) -> bool:
    db.session.expire_all()
    signer = signer_for_domain(domain)
    message = (
        f"From: News <news@{domain}>\r\nTo: ann@example.org\r\nSubject: Hello\r\n"
        f"Date: Sun, 29 Nov 2026 08:00:00 +0000\r\nMessage-ID: <m1@{domain}>\r\n"
        "List-Unsubscribe: <https://example.com/u/t>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Ann\r\n"
    ).encode()
    record = public_key_record(signer.key.public_key()).encode()
    wanted = f"{selector}._domainkey.{domain}.".encode()
    return dkim.verify(
        signer.sign(message), dnsfunc=lambda name, timeout=5: record if name == wanted else None
    )


@pytest.mark.config(MAILER_DATA_KEYS=[OLD_KEY])
def test_stored_key_is_encrypted_and_still_signs(app, app_ctx, runner):
    result = runner.invoke(args=["dkim", "keygen", "example.com", "--selector", "mail2026"])
    assert result.exit_code == 0, result.output
    raw = _raw_value()
    pem = db.session.execute(db.select(DkimKey)).scalar_one().private_key_pem
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert b"PRIVATE KEY" not in raw
    assert not any(line.encode() in raw for line in _pem_lines(pem))
    assert Fernet(OLD_KEY.encode()).decrypt(raw).decode() == pem  # sealed under the configured master key
    assert _verifies("example.com", "mail2026")


@pytest.mark.config(MAILER_DATA_KEYS=[OLD_KEY])
def test_reencrypt_moves_dkim_keys_to_the_newest_master_key(app, app_ctx, runner):
    assert runner.invoke(args=["dkim", "keygen", "example.com", "--selector", "s1"]).exit_code == 0
    before = _raw_value()

    app.config["MAILER_DATA_KEYS"] = [NEW_KEY, OLD_KEY]
    result = runner.invoke(args=["keys", "reencrypt"])
    assert result.exit_code == 0 and "1 DKIM keys" in result.output, result.output
    after = _raw_value()
    assert after != before
    Fernet(NEW_KEY.encode()).decrypt(after)  # readable with the new key alone

    app.config["MAILER_DATA_KEYS"] = [NEW_KEY]  # the old key is retired
    assert _verifies("example.com", "s1")


@pytest.mark.config(MAILER_DATA_KEYS=[OLD_KEY])
def test_a_key_sealed_under_a_retired_master_key_is_a_clear_error(app, app_ctx, runner):
    assert runner.invoke(args=["dkim", "keygen", "example.com", "--selector", "s1"]).exit_code == 0
    app.config["MAILER_DATA_KEYS"] = [NEW_KEY]
    result = runner.invoke(args=["keys", "reencrypt"])
    assert result.exit_code != 0 and "not readable with any configured key" in result.output


@pytest.mark.sqlite_only
def test_migration_encrypts_existing_keys_and_downgrade_restores_them(tmp_path, backend):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    app = create_app(
        {
            "MAILER_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}",
            "MAILER_DATA_KEYS": [OLD_KEY],
        }
    )
    with app.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO dkim_keys (domain, selector, private_key_pem, active, created_at) "
                    "VALUES ('example.com', 'old', :pem, 1, CURRENT_TIMESTAMP)"
                ),
                {"pem": pem},
            )
        upgrade(revision="0008")
        with db.engine.connect() as conn:
            raw = bytes(conn.execute(text("SELECT private_key_encrypted FROM dkim_keys")).scalar_one())
        assert b"PRIVATE KEY" not in raw and Fernet(OLD_KEY.encode()).decrypt(raw).decode() == pem
        assert db.session.execute(db.select(DkimKey)).scalar_one().private_key_pem == pem
        db.session.remove()

        downgrade(revision="0007")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT private_key_pem FROM dkim_keys")).scalar_one() == pem
        db.engine.dispose()


def test_keygen_without_master_keys_in_production_is_a_clear_refusal(app, app_ctx, runner):
    app.config.update(MAILER_ENV="production", MAILER_DATA_KEYS=[])
    result = runner.invoke(args=["dkim", "keygen", "example.com", "--selector", "s1"])
    assert result.exit_code != 0 and "MAILER_DATA_KEYS" in result.output
    assert not db.session.execute(db.select(DkimKey)).first()
