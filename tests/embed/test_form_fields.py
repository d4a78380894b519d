"""Sign-up forms that ask for custom contact fields: the
builder's rules, validation, storage, masking and consent."""

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from mailer.consent.ledger import consent_status
from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as field_service
from mailer.contacts.models.fields import ContactFieldValue
from mailer.core.extensions import db
from mailer.privacy import export, subject_data
from mailer.subscriptions import forms as form_service
from tests.support.http import csrf_token, form_timer
from tests.support.privacy import ask_on_form, links_in_mail
from tests.support.signup import BROWSER, contact_by_email, page, row_counts

JSON = {"Accept": "application/json"}
HEALTH = "Type 1 diabetes, insulin pump"


@pytest.fixture
def clinic(demo_form):
    """The demo form asking for a company (required), a
    number of visits, a birth date and a health condition."""
    company = field_service.define_field("company", "Company", "personal_identifier")
    visits = field_service.define_field("visits", "Visits per year", "ordinary", value_type="number")
    birth = field_service.define_field(
        "birth_date", "Date of birth", "ordinary", value_type="date", quasi_identifier="birth_date"
    )
    health = field_service.define_field(
        "health", "Health condition", "sensitive", help_text="Only if you want us to adapt our events."
    )
    db.session.commit()
    ask_on_form(demo_form, company, label="Your company", required=True)
    ask_on_form(demo_form, visits)
    ask_on_form(demo_form, birth)
    ask_on_form(demo_form, health)
    return {"form": demo_form, "company": company, "visits": visits, "birth": birth, "health": health}


def _boxes(clinic):
    return {"list": clinic["form"].lists[0].purpose.public_id, "health": clinic["health"].purpose.public_id}


def _submit(client, clinic, email="ann@example.com", consents=("list",), headers=None, **answers):
    boxes = _boxes(clinic)
    data = {
        "email": email,
        "name": "Ann",
        "ts": form_timer(client),
        "website": "",
        "consent": [boxes[c] for c in consents],
        "field_company": "Acme Ltd",
    }
    data.update({f"field_{key}": value for key, value in answers.items()})
    return client.post("/f/demo", data=data, headers={"User-Agent": BROWSER, **(headers or {})})


# --- The builder --------------------------------------------------------------------------------------------


def test_a_sensitive_field_needs_its_explicit_consent_checkbox_on_the_form(app_ctx, demo_form):
    health = field_service.define_field("health", "Health condition", "sensitive")
    db.session.commit()
    settings = form_service.settings_of(demo_form)
    settings.fields = [form_service.FieldSetting(health.id)]
    with pytest.raises(form_service.FormError, match="sensitive: tick its explicit-consent checkbox"):
        form_service.save_form(settings, demo_form)
    db.session.rollback()

    settings = form_service.settings_of(demo_form)
    settings.fields = [form_service.FieldSetting(health.id, required=True)]
    settings.purpose_ids.append(health.purpose_id)
    with pytest.raises(form_service.FormError, match="cannot be required"):
        form_service.save_form(settings, demo_form)
    db.session.rollback()

    settings = form_service.settings_of(demo_form)
    settings.purpose_ids.append(health.purpose_id)  # the consent box alone, without the field, means nothing
    with pytest.raises(form_service.FormError, match="only makes sense when the form asks for"):
        form_service.save_form(settings, demo_form)
    db.session.rollback()

    before = demo_form.notice.version
    ask_on_form(demo_form, health)
    assert [ff.field.key for ff in demo_form.fields] == ["health"]
    # The consent wording is part of the form's versioned notice: what the person saw stays provable.
    content = demo_form.notice.content
    assert demo_form.notice.version == before + 1
    assert content["fields"] == [
        {
            "field": "health",
            "label": "Health condition",
            "required": False,
            "consent_checkbox": field_service.consent_label(health),
        }
    ]
    assert field_service.consent_label(health) in [box["label"] for box in content["checkboxes"]]


def test_the_builder_adds_fields_and_refuses_a_sensitive_one_without_its_consent_box(
    app, client, auth, demo_form
):
    company = field_service.define_field("company", "Company", "personal_identifier")
    health = field_service.define_field("health", "Health condition", "sensitive")
    db.session.commit()
    url = f"/admin/forms/{demo_form.public_id}/edit"
    edit = client.get(url)
    assert edit.status_code == 200 and "Contact fields asked for" in page(edit)
    base = {
        "csrf_token": csrf_token(edit.text),
        "name": demo_form.name,
        "slug": "demo",
        "title": demo_form.title,
        "button_label": "Subscribe",
        "lists": [str(lst.id) for lst in demo_form.lists],
        "active": "y",
        "ask_name": "y",
        "privacy_text": demo_form.privacy_text,
        "ff_use": [str(company.id), str(health.id)],
        f"ff_label-{company.id}": "Where do you work?",
        f"ff_required-{company.id}": "yes",
    }
    refused = client.post(url, data=base)
    assert refused.status_code == 400
    assert "“Health condition” is sensitive: tick its explicit-consent checkbox" in page(refused)
    db.session.expire_all()
    assert demo_form.fields == []

    saved = client.post(url, data={**base, "purposes": [str(health.purpose_id)]})
    assert saved.status_code == 302, page(saved)
    db.session.expire_all()
    assert [(ff.field.key, ff.shown_label, ff.required) for ff in demo_form.fields] == [
        ("company", "Where do you work?", True),
        ("health", "Health condition", False),
    ]
    shown = page(client.get(f"/admin/forms/{demo_form.public_id}"))
    # The copy-paste snippet asks for both, with the explicit-consent box beside the sensitive one.
    assert 'name="field_company" maxlength="500" required' in shown
    assert 'name="field_health"' in shown and f'value="{health.purpose.public_id}"' in shown
    assert field_service.consent_label(health) in shown


# --- The public form ----------------------------------------------------------------------------------------


def test_the_hosted_form_asks_for_the_fields_with_an_unticked_consent_box(app, client, clinic):
    shown = page(client.get("/f/demo"))
    assert 'for="field_company">Your company</label>' in shown
    assert 'type="date"' in shown and 'inputmode="decimal"' in shown
    assert "Only if you want us to adapt our events." in shown
    box = f'name="consent" value="{clinic["health"].purpose.public_id}" id="consent-field_health">'
    assert box in shown  # present, and not "checked"
    assert field_service.consent_label(clinic["health"]) in shown


def test_a_sign_up_stores_the_answers_and_a_sensitive_one_encrypted(app, client, clinic, worker):
    response = _submit(
        client, clinic, consents=("list", "health"), visits="12", birth_date="1990-04-23", health=HEALTH
    )
    assert response.status_code == 200, page(response)
    ann = contact_by_email("ann@example.com")
    assert field_service.read_value(ann, clinic["company"]) == "Acme Ltd"
    assert field_service.read_value(ann, clinic["visits"]) == "12"
    assert field_service.read_value(ann, clinic["birth"]) == "1990-04-23"
    row = db.session.get(ContactFieldValue, (ann.id, clinic["health"].id))
    assert row.value is None and HEALTH.encode() not in row.ciphertext
    assert field_service.read_value(ann, clinic["health"]) == HEALTH
    # The consent is in the ledger like any other purpose: requested with the form's notice, then confirmed.
    event = db.session.execute(
        select(ConsentEvent).where(
            ConsentEvent.contact_id == ann.id, ConsentEvent.purpose_id == clinic["health"].purpose_id
        )
    ).scalar_one()
    assert event.action == "requested" and event.notice_id == clinic["form"].notice_id
    worker.drain()
    [link] = links_in_mail(app, "ann@example.com", "/confirm/")
    assert client.post(link).status_code == 200
    db.session.expire_all()
    assert consent_status(ann, clinic["health"].purpose) == "granted"

    # Staff see it masked; the person's own export shows it in clear, a staff export masked.
    shown = {f.field.key: f.shown for f in field_service.display_fields(ann)}
    assert shown["health"] == "••••" and shown["company"] == "Acme Ltd"
    mine = {row["field"]: row["value"] for row in subject_data.collect_fields(ann, clear=True)}
    staffs = {row["field"]: row["value"] for row in subject_data.collect_fields(ann, clear=False)}
    assert mine["health"] == HEALTH and staffs["health"] == "••••" and staffs["visits"] == "12"
    archive = zipfile.ZipFile(io.BytesIO(export.build_zip(ann, clear_sensitive=False)))
    assert HEALTH not in archive.read("data.json").decode()
    assert "Acme Ltd" in json.dumps(json.loads(archive.read("data.json")))


def test_the_contact_page_shows_form_answers_masked_where_sensitive(app, client, auth, clinic):
    assert _submit(client, clinic, consents=("list", "health"), health=HEALTH).status_code == 200
    ann = contact_by_email("ann@example.com")
    shown = page(client.get(f"/admin/contacts/{ann.public_id}"))
    assert "Acme Ltd" in shown and "••••" in shown and "insulin" not in shown


def test_a_sensitive_answer_without_the_consent_tick_is_refused_and_nothing_is_stored(app, client, clinic):
    before = row_counts()
    response = _submit(client, clinic, consents=("list",), health=HEALTH)
    assert response.status_code == 400
    assert "We can only store your answer to “Health condition” with your explicit consent" in page(response)
    assert row_counts() == before
    assert db.session.execute(select(ContactFieldValue)).first() is None
    # Typed answers come back, so the person only has to tick the box.
    assert 'value="Acme Ltd"' in page(response) and HEALTH in page(response)

    as_json = _submit(client, clinic, consents=("list",), headers=JSON, health=HEALTH)
    assert as_json.status_code == 400 and as_json.json["field"] == "field_health"


def test_ticking_the_consent_but_leaving_the_answer_empty_records_nothing_sensitive(app, client, clinic):
    assert _submit(client, clinic, consents=("list", "health"), health="  ").status_code == 200
    ann = contact_by_email("ann@example.com")
    assert consent_status(ann, clinic["health"].purpose) is None
    assert field_service.read_value(ann, clinic["health"]) is None


HOSTILE = [
    ("required field empty", {"company": " "}, "Please fill in “Your company”.", "field_company"),
    ("not a number", {"visits": "twelve"}, "“Visits per year” must be a number", "field_visits"),
    (
        "not a date",
        {"birth_date": "1990-13-45"},
        "“Date of birth” must be a date written as YYYY-MM-DD",
        "field_birth_date",
    ),
    ("implausible date", {"birth_date": "0001-01-01"}, "between the years 1900 and 2100", "field_birth_date"),
    (
        "too long",
        {"company": "A" * 501},
        "“Your company” is too long (500 characters at most)",
        "field_company",
    ),
    ("control character", {"company": "Acme\x1b[2JLtd"}, "characters we can't store", "field_company"),
    ("markup", {"visits": "<script>alert(1)</script>"}, "must be a number", "field_visits"),
]


@pytest.mark.parametrize("case, answers, message, field", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_bad_answers_get_a_clear_400_and_nothing_is_written(
    app, client, clinic, case, answers, message, field
):
    before = row_counts()
    response = _submit(client, clinic, **answers)
    assert response.status_code == 400
    assert message in page(response) and f'id="{field}"' in page(response)
    assert "<script>alert(1)</script>" not in response.text  # echoed back escaped, never as markup
    assert row_counts() == before
    as_json = _submit(client, clinic, headers=JSON, **answers)
    assert as_json.status_code == 400 and as_json.json["field"] == field and message in as_json.json["error"]


def test_answers_for_fields_the_form_does_not_ask_for_are_ignored(app, client, clinic):
    response = _submit(client, clinic, postcode="SW1A 1AA", **{"company ": "x", "COMPANY": "y"})
    assert response.status_code == 200
    ann = contact_by_email("ann@example.com")
    assert {f.key for f, _ in field_service.values_for(ann)} == {"company"}


def test_an_unconfirmed_form_cannot_overwrite_a_confirmed_subscribers_answers(app, client, clinic, worker):
    assert _submit(client, clinic, visits="3").status_code == 200
    worker.drain()
    [link] = links_in_mail(app, "ann@example.com", "/confirm/")
    client.post(link)
    # Anyone can type Ann's address: a later submission fills what is empty but changes nothing she stored.
    assert (
        _submit(
            client, clinic, visits="99", birth_date="1970-01-01", **{"company": "Mallory Corp"}
        ).status_code
        == 200
    )
    ann = contact_by_email("ann@example.com")
    assert field_service.read_value(ann, clinic["visits"]) == "3"
    assert field_service.read_value(ann, clinic["company"]) == "Acme Ltd"
    assert field_service.read_value(ann, clinic["birth"]) == "1970-01-01"


@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="10 per hour")
def test_a_sensitive_answer_never_confirmed_goes_with_the_expired_consent(app, client, clinic, worker):
    from mailer.subscriptions.expiry import purge_unconfirmed

    assert _submit(client, clinic).status_code == 200
    worker.drain()
    client.post(links_in_mail(app, "ann@example.com", "/confirm/")[-1])
    # Already a confirmed subscriber, Ann (or someone typing her address) adds a health answer, never
    # confirmed.
    assert _submit(client, clinic, consents=("list", "health"), health=HEALTH).status_code == 200
    ann = contact_by_email("ann@example.com")
    assert consent_status(ann, clinic["health"].purpose) == "pending"
    assert field_service.read_value(ann, clinic["health"]) == HEALTH
    purge_unconfirmed(days=0)
    db.session.expire_all()
    assert consent_status(ann, clinic["health"].purpose) == "expired"
    assert field_service.read_value(ann, clinic["health"]) is None
    assert field_service.read_value(ann, clinic["company"]) == "Acme Ltd"  # ordinary answers stay
    assert [s.status for s in ann.subscriptions] == ["confirmed"]
