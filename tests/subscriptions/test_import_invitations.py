"""The double opt-in emails of an import go through the confirmation job, paced by the global send rate:
the per-domain cap of the public forms does not drop them (every invited person gets one) and an import does
not use that cap up for the forms' sign-ups."""

import io

import pytest
from sqlalchemy import select

from mailer.contacts.operations import get_or_create_contact
from mailer.core.extensions import db
from mailer.subscriptions import imports
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.operations import request_confirmation_email


@pytest.mark.config(CONFIRM_EMAIL_PER_DOMAIN="2 per hour", SEND_RATE_PER_SECOND=1000)
def test_every_invited_person_gets_one_confirmation_email(app, demo_form, worker, smtp_server):
    mailing_list = db.session.execute(select(MailingList)).scalar_one()
    addresses = [f"person{n}@example.com" for n in range(6)]
    job = imports.create_import(
        imports.ImportRequest(
            "people.csv",
            io.BytesIO(("email\n" + "\n".join(addresses) + "\n").encode()),
            mailing_list,
            "double_opt_in",
        ),
        None,
    )
    db.session.commit()
    imports.confirm_mapping(job, ["email"])
    db.session.commit()
    worker.drain()  # the import, then its invitations, then each confirmation email

    for address in addresses:
        [received] = smtp_server.to(address)
        assert received.message["Subject"].startswith("Please confirm your subscription")
    # The forms' cap for the domain is untouched: a sign-up there still gets its email.
    someone, _ = get_or_create_contact("someone@example.com", source="test")
    db.session.commit()
    assert request_confirmation_email(someone)
