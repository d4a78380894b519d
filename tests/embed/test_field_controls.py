"""Each custom field type gets its own control in the copy-paste snippet and on the hosted form: single
choice a select, multiple choice checkboxes in a fieldset, an optional yes/no a checkbox (a required one a
yes/no select), a date a date input, a number a decimal keypad; the answers they post are stored as before."""

import html
import re

import pytest

from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from tests.support.http import form_timer
from tests.support.privacy import ask_on_form
from tests.support.signup import contact_by_email, page


@pytest.fixture
def typed(demo_form):
    made = {
        "plan": field_service.define_field(
            "plan", "Plan", "ordinary", value_type="single_choice", choices="Free\nPro"
        ),
        "topics": field_service.define_field(
            "topics", "Topics", "ordinary", value_type="multiple_choice", choices="News\nEvents\nOffers"
        ),
        "member": field_service.define_field("member", "Already a member", "ordinary", value_type="yes_no"),
        "adult": field_service.define_field("adult", "Over 18", "ordinary", value_type="yes_no"),
        "visits": field_service.define_field("visits", "Visits per year", "ordinary", value_type="number"),
        "birth": field_service.define_field("birth", "Birthday", "ordinary", value_type="date"),
    }
    db.session.commit()
    for key, custom in made.items():
        ask_on_form(demo_form, custom, required=key == "adult")
    return made


def _snippet(auth, form) -> str:
    shown = auth.get(f"/admin/forms/{form.public_id}").text
    return html.unescape(re.search(r'<textarea id="snippet"[^>]*>(.*?)</textarea>', shown, re.S).group(1))


def test_the_snippet_and_the_hosted_form_use_a_control_per_type(app, auth, typed, demo_form):
    snippet = _snippet(auth, demo_form)
    assert (
        '<select name="field_plan"><option value="">—</option><option value="Free">Free</option>' in snippet
    )
    # Checkboxes sit in label.mailer-check (the embed stylesheet's 44 px line), their words in a span.
    topics = '<fieldset><legend>Topics (optional)</legend><label class="mailer-check"><input type="checkbox"'
    assert topics + ' name="field_topics" value="News"> <span>News</span></label>' in snippet
    assert (
        '<input type="checkbox" name="field_member" value="yes"> <span>Already a member</span></label>'
        in snippet
    )
    assert '<select name="field_adult" required><option value="">—</option><option value="yes">' in snippet
    assert 'name="field_visits" maxlength="500" inputmode="decimal"' in snippet
    assert '<input type="date" name="field_birth"' in snippet

    hosted = page(auth.get("/f/demo"))
    assert 'type="checkbox" id="field_member" name="field_member" value="yes"' in hosted
    assert '<select class="form-select" id="field_adult" name="field_adult" required' in hosted
    assert 'name="field_topics" value="Offers"' in hosted and 'id="field_plan" name="field_plan"' in hosted


def test_answers_from_those_controls_are_stored(app, auth, typed, demo_form):
    answer = auth.post(
        "/f/demo",
        data={
            "email": "ann@example.com",
            "ts": form_timer(auth),
            "website": "",
            "consent": [demo_form.lists[0].purpose.public_id],
            "field_plan": "Pro",
            "field_topics": ["News", "Offers"],
            "field_member": "yes",
            "field_adult": "yes",
            "field_visits": "3,5",
            "field_birth": "1990-04-01",
        },
    )
    assert answer.status_code == 200, page(answer)
    ann = contact_by_email("ann@example.com")
    stored = {custom.key: value for custom, value in field_service.values_for(ann)}
    assert stored["plan"] == "Pro" and stored["topics"] == "News; Offers" and stored["member"] == "yes"
    assert stored["birth"] == "1990-04-01" and stored["visits"] in ("3.5", "3,5")
    refused = auth.post(
        "/f/demo",
        data={
            "email": "bob@example.com",
            "ts": form_timer(auth),
            "website": "",
            "consent": [demo_form.lists[0].purpose.public_id],
            "field_plan": "Gold",
            "field_adult": "yes",
        },
    )
    assert refused.status_code == 400  # the server still checks the choice, whatever the control
