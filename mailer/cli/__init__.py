"""Operator commands: `flask --app wsgi <command>`, one module per thing they manage, registered here."""

import click
from flask import Flask

from mailer.cli import (
    audience,
    consent,
    contacts,
    deliverability,
    demo,
    keys,
    privacy,
    scheduler,
    sending,
    staff,
    subscriptions,
)

COMMANDS: tuple[click.Command, ...] = (
    staff.create_admin,
    staff.reset_second_factor,
    demo.seed_demo,
    consent.consent,
    contacts.import_contacts,
    subscriptions.purge_unconfirmed,
    sending.dkim,
    sending.recover_deliveries,
    privacy.privacy,
    privacy.retention,
    keys.keys,
    deliverability.bounces,
    deliverability.doctor,
    scheduler.scheduler,
    audience.audience,
)


def init_app(app: Flask) -> None:
    """Add every command and command group to the app's `flask` command line."""
    for command in COMMANDS:
        app.cli.add_command(command)
