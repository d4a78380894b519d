"""The API refuses NUL, ESC and other control characters
with a 422 naming the field; text keeps its line breaks."""

from sqlalchemy import select

from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from tests.api.helpers import signup_body


def test_api_refuses_control_characters_and_keeps_line_breaks_in_consent_text(app, api, demo_form):
    body = signup_body()
    body["consent"]["text"] = "Yes, send me the newsletter.\nI can unsubscribe at any time."
    assert api.post("/subscriptions", json=body).status_code == 202
    contact = db.session.execute(select(Contact)).scalar_one()
    refused = api.patch(f"/contacts/{contact.public_id}", json={"name": "Ann\x07"})
    assert refused.status_code == 422 and "control characters" in refused.get_json()["detail"]["name"]
    refused = api.patch(f"/contacts/{contact.public_id}", json={"attributes": {"plan": "gold\x1b"}})
    assert refused.status_code == 422
