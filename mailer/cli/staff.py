"""Staff accounts from the command line: the first owner, and a second factor reset after a lost phone."""

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from mailer.contacts.operations import AddressError, normalise_email
from mailer.core.extensions import db
from mailer.staff.accounts import StaffError, create_staff
from mailer.staff.models.accounts import ROLES_NEEDING_SECOND_FACTOR, StaffUser
from mailer.staff.second_factor import reset_second_factors


@click.command("create-admin")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when left out.",
)
@click.option(
    "--role",
    default="owner",
    show_default=True,
    type=click.Choice(["owner", "admin", "marketer", "viewer", "privacy"]),
)
@with_appcontext
def create_admin(email: str, password: str, role: str) -> None:
    """Create a staff account."""
    try:
        user = create_staff(email, password, role)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.role} account {user.email}.")
    if user.role in ROLES_NEEDING_SECOND_FACTOR:
        click.echo("At the first login the admin asks to set up a second factor (an authenticator app).")


@click.command("reset-second-factor")
@click.argument("email")
@with_appcontext
def reset_second_factor(email: str) -> None:
    """Remove a staff account's authenticator app, passkeys and recovery codes (lost phone and codes)."""
    try:
        address = normalise_email(email)
    except AddressError as exc:
        raise click.ClickException(str(exc)) from None
    user = db.session.execute(select(StaffUser).where(StaffUser.email == address)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No staff account {address}.")
    reset_second_factors(user)
    db.session.commit()
    click.echo(
        f"Removed every second factor of {user.email} and ended their sessions; "
        "they set one up again at their next login."
    )
