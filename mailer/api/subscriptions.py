"""POST /subscriptions: a sign-up collected by an integration, through the same double opt-in as the forms."""

from flask import current_app, g, jsonify

from mailer.api import api_route
from mailer.api.inputs import invalid, json_object, obj, refuse_unknown, string, string_list
from mailer.subscriptions import api_signup, throttle
from mailer.contacts.operations import email_hash
from mailer.core.web import with_response_floor

ACCEPTED_MESSAGE = (
    "Thank you. If this address can receive our mail, a confirmation email is on its way; the "
    "subscription starts when the person follows its link."
)
BODY_FIELDS = {"email", "name", "lists", "consent"}
CONSENT_FIELDS = {"text", "source_url", "ip", "user_agent"}


def _read_signup() -> api_signup.ApiSignup:
    body = json_object()
    refuse_unknown(body, BODY_FIELDS)
    consent = obj(body, "consent", required=True)
    refuse_unknown(consent, CONSENT_FIELDS, where="consent.")
    return api_signup.ApiSignup(
        email=string(body, "email", required=True),
        name=string(body, "name", nullable=True) or "",
        lists=string_list(body, "lists", required=True, max_items=api_signup.MAX_LISTS),
        consent_text=string(consent, "text", required=True, where="consent.", multiline=True),
        source_url=string(consent, "source_url", required=True, where="consent."),
        ip=string(consent, "ip", nullable=True, where="consent."),
        user_agent=string(consent, "user_agent", nullable=True, where="consent."),
    )


@api_route("/subscriptions", methods=("POST",))
@with_response_floor
def subscriptions_create():
    """Ask a person to confirm a subscription; the answer (and its time: J3) is the same whatever the address."""
    inp = _read_signup()
    try:
        checked = api_signup.validate(inp)
    except api_signup.ApiSignupError as exc:
        raise invalid(exc.field_name, str(exc)) from None
    # The per-address budget is shared with the forms; past it the request is accepted and silently dropped.
    if throttle.allow(
        current_app.config["SIGNUP_RATE_LIMIT_ADDRESS"], "signup-address", email_hash(checked.email)
    ):
        api_signup.subscribe(checked, g.api_key)
    return jsonify(status="accepted", message=ACCEPTED_MESSAGE), 202
