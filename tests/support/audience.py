"""Subscribers made through the real double opt-in services, for the campaign tests."""

from mailer.consent.ledger import RequestContext
from mailer.contacts.operations import find_contact_by_email
from mailer.subscriptions.signup import SignupInput, confirm, confirmation_token, submit_form

SIGNUP = RequestContext("form", ip="192.0.2.1", user_agent="TestBrowser/1.0")


def subscriber(form, email: str, name: str | None = None, confirmed: bool = True):
    """Sign someone up to the form's first list and confirm by the link's token (double opt-in) unless told
    not."""
    list_purpose = form.lists[0].purpose
    submit_form(form, SignupInput(email=email, name=name or "", consents=[list_purpose.public_id]), SIGNUP)
    contact = find_contact_by_email(email)
    if confirmed:
        assert confirm(confirmation_token(contact), SIGNUP).status == "confirmed"
    return contact
