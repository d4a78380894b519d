"""Typed custom fields: every type's rule, the same wherever a value is written, and the typed copy segments
compare in SQL."""

from datetime import date

import pytest
from sqlalchemy import select

from mailer.contacts import fields as field_service
from mailer.contacts.models.fields import ContactFieldValue
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import subscriber
from tests.support.http import csrf_token


def _field(key: str, value_type: str, choices=None):
    return field_service.define_field(key, key.title(), "ordinary", value_type=value_type, choices=choices)


def test_each_type_accepts_its_values_and_refuses_others_with_a_reason(app_ctx):
    cases = {
        "text": [("  Acme   Ltd ", "Acme Ltd")],
        "number": [("42", "42"), ("3,5", "3.5"), ("lots", "must be a number")],
        "date": [("1990-04-23", "1990-04-23"), ("23/04/1990", "YYYY-MM-DD"), ("1800-01-01", "between")],
        "email": [("Bob@Example.COM", "bob@example.com"), ("bob@", "email address")],
        "yes_no": [("Yes", "yes"), ("false", "no"), ("maybe", "yes or no")],
    }
    for value_type, examples in cases.items():
        field = _field(f"f_{value_type}", value_type)
        for raw, expected in examples:
            result = field_service.coerce(field, raw)
            if isinstance(result, field_service.Invalid):
                assert expected in result.message, (value_type, raw, result)
            else:
                assert result == expected, (value_type, raw, result)


def test_choice_fields_keep_to_their_choices(app_ctx):
    plan = _field("plan", "single_choice", "Bronze\nSilver\n Gold ")
    assert plan.choices == ["Bronze", "Silver", "Gold"]
    assert field_service.coerce(plan, "silver") == "Silver"
    refused = field_service.coerce(plan, "Platinum")
    assert isinstance(refused, field_service.Invalid)
    assert "must be one of: Bronze, Silver, Gold" in refused.message
    topics = _field("topics", "multiple_choice", ["Garden", "Kitchen", "Tools"])
    assert field_service.coerce(topics, "tools; garden") == "Garden; Tools"  # the field's order, no repeats
    assert field_service.coerce(topics, "Garden;Garden") == "Garden"
    assert isinstance(field_service.coerce(topics, "Garden; Pool"), field_service.Invalid)


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ("Only one", "at least two"),
        ("A\nA", "listed twice"),
        ("A;B\nC", "may not contain"),
        ("\n".join(str(n) for n in range(60)), "50 choices at most"),
    ],
)
def test_bad_choice_lists_are_refused(app_ctx, choices, message):
    with pytest.raises(PrivacyError, match=message):
        _field("plan", "single_choice", choices)


def test_numbers_and_dates_are_stored_typed_for_segments_but_never_for_sensitive_fields(app_ctx):
    newsletter = create_list("News")
    person = subscriber(newsletter, "ann@example.com")
    score, born = _field("score", "number"), _field("joined", "date")
    field_service.set_value(person, score, "7,5")
    field_service.set_value(person, born, "2020-02-29")
    rows = {
        row.field_id: row
        for row in db.session.execute(
            select(ContactFieldValue).where(ContactFieldValue.contact_id == person.id)
        ).scalars()
    }
    assert (rows[score.id].value, rows[score.id].number_value) == ("7.5", 7.5)
    assert (rows[born.id].value, rows[born.id].date_value) == ("2020-02-29", date(2020, 2, 29))


def test_staff_define_a_choice_field_on_the_fields_page(app_ctx, auth):
    page = auth.get("/admin/settings/fields")
    assert "Multiple choice" in page.text and "Yes / no" in page.text
    answer = auth.post(
        "/admin/settings/fields",
        data={
            "csrf_token": csrf_token(page.text),
            "label": "Plan",
            "key": "plan",
            "category": "ordinary",
            "value_type": "single_choice",
            "quasi_identifier": "",
            "choices": "Bronze\nSilver\nGold",
        },
        follow_redirects=True,
    )
    assert answer.status_code == 200
    assert "Field “Plan” created." in answer.text
    assert "Bronze · Silver · Gold" in answer.text
    again = auth.post(
        "/admin/settings/fields",
        data={
            "csrf_token": csrf_token(page.text),
            "label": "Size",
            "key": "size",
            "category": "ordinary",
            "value_type": "multiple_choice",
            "quasi_identifier": "",
            "choices": "Only",
        },
    )
    assert again.status_code == 400
    assert "at least two choices" in again.text
