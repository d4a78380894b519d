"""Encryption keys from the command line: `flask keys reencrypt` after adding a new MAILER_DATA_KEYS key."""

import click
from flask.cli import AppGroup

from mailer import audit
from mailer.contacts import keys as contact_keys
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.delivery import dkim_keys, relays
from mailer.staff import second_factor


@click.group("keys", cls=AppGroup)
def keys() -> None:
    """Encryption keys of sensitive fields."""


@keys.command("reencrypt")
def keys_reencrypt() -> None:
    """Re-wrap contact data keys, DKIM private keys and staff TOTP secrets under the newest MAILER_DATA_KEYS
    key."""
    try:
        count = contact_keys.rewrap_all()
        dkim_count = dkim_keys.reseal_all()
        totp_count = second_factor.reseal_totp_secrets()
        relay_count = relays.reseal_relays()
    except (
        PrivacyError,
        dkim_keys.DkimKeyError,
        second_factor.SecondFactorError,
        relays.RelaySecretError,
    ) as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(
        "keys.reencrypt",
        "keys",
        "",
        {
            "contact_keys": count,
            "dkim_keys": dkim_count,
            "totp_secrets": totp_count,
            "relay_passwords": relay_count,
        },
    )
    db.session.commit()
    click.echo(
        f"Re-encrypted {count} contact keys, {dkim_count} DKIM keys, {totp_count} authenticator "
        f"secrets and {relay_count} relay passwords under the newest master key; older keys can be retired."
    )
