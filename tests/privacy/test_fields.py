"""Sensitive fields (Art. 9, 10, 32): refused for criminal records, consent first, encrypted, masked, audited
reveals."""

import pytest
from sqlalchemy import select, text

from mailer.audit.models import AuditEvent
from mailer.consent.ledger import RequestContext
from mailer.contacts import fields as field_service
from mailer.contacts import keys
from mailer.contacts.models.fields import ContactFieldValue, ContactKey
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.privacy.objection import object_to
from mailer.staff.accounts import create_staff
from tests.support.campaigns import newsletter
from tests.support.privacy import define_fields, fill_fields

OLD_KEY = "c2VjcmV0LWtleS1vbmUtZm9yLXRlc3RzLTMyLWJ5dGU="
NEW_KEY = "YW5vdGhlci1rZXktdHdvLWZvci10ZXN0cy0zMmJ5dGU="


@pytest.mark.parametrize(
    "key, label",
    [
        ("criminal_record", "Criminal record"),
        ("convictions", "Past convictions"),
        ("notes", "Offences committed"),
        ("police", "Police record"),
    ],
)
def test_criminal_record_fields_cannot_be_created(app_ctx, key, label):
    with pytest.raises(PrivacyError, match=r"Art\. 10"):
        field_service.define_field(key, label, "sensitive")


def test_a_sensitive_value_needs_explicit_consent_and_is_encrypted_at_rest(app_ctx):
    _, (person,) = newsletter(1)
    fields = define_fields()
    with pytest.raises(PrivacyError, match="explicit consent"):
        field_service.set_value(person, fields["national_id"], "DE-4417-2290-1133")
    fill_fields(
        person, fields, {"national_id": "DE-4417-2290-1133", "health": "Coeliac disease", "postcode": "24937"}
    )
    raw = db.session.execute(text("SELECT value, ciphertext FROM contact_field_values")).all()
    assert ("24937", None) in [(v, c) for v, c in raw]
    sealed = [c for v, c in raw if c is not None]
    assert len(sealed) == 2 and all(
        b"4417-2290" not in bytes(c) and b"Coeliac" not in bytes(c) for c in sealed
    )
    assert field_service.read_value(person, fields["national_id"]) == "DE-4417-2290-1133"
    shown = {f.field.key: f.shown for f in field_service.display_fields(person)}
    assert shown["national_id"] == "•••• 1133"  # long numbers keep their last four digits
    assert shown["health"] == "••••"  # anything else is hidden entirely
    assert shown["postcode"] == "24937"


def test_a_ciphertext_cannot_be_moved_to_another_contact_or_field(app_ctx):
    _, (ann, bob) = newsletter(2)
    fields = define_fields()
    fill_fields(ann, fields, {"health": "Asthma"})
    fill_fields(bob, fields, {"health": "None"})
    stolen = db.session.get(ContactFieldValue, (ann.id, fields["health"].id)).ciphertext
    assert keys.unseal(bob, "health", stolen) is None
    assert keys.unseal(ann, "national_id", stolen) is None
    assert keys.unseal(ann, "health", stolen) == "Asthma"


def test_a_reveal_needs_a_reason_and_is_audited(app_ctx):
    _, (person,) = newsletter(1)
    fields = define_fields()
    fill_fields(person, fields, {"health": "Coeliac disease"})
    officer = create_staff("dpo@example.com", "correct horse battery", "privacy")
    with pytest.raises(PrivacyError, match="why"):
        field_service.reveal(person, fields["health"], officer, "  ")
    assert (
        field_service.reveal(person, fields["health"], officer, "Dietary needs for the dinner")
        == "Coeliac disease"
    )
    [event] = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "contact.view_sensitive")
    ).scalars()
    assert (event.actor_id, event.target_id, event.details) == (
        officer.id,
        person.public_id,
        {"field": "health", "reason": "Dietary needs for the dinner"},
    )
    with pytest.raises(ValueError, match="append-only"):
        event.details = {}
        db.session.commit()
    db.session.rollback()


def test_withdrawing_consent_to_a_sensitive_field_deletes_its_value(app_ctx):
    _, (person,) = newsletter(1)
    fields = define_fields()
    fill_fields(person, fields, {"health": "Coeliac disease"})
    object_to(person, [fields["health"].purpose], RequestContext("preference-centre"))
    db.session.commit()
    assert field_service.read_value(person, fields["health"]) is None


def test_key_rotation_rewraps_every_contact_key(app, app_ctx, runner):
    app.config["MAILER_DATA_KEYS"] = [OLD_KEY]
    _, (person,) = newsletter(1)
    fields = define_fields()
    fill_fields(person, fields, {"national_id": "DE-4417-2290-1133"})
    wrapped_before = db.session.get(ContactKey, person.id).wrapped_key

    app.config["MAILER_DATA_KEYS"] = [NEW_KEY, OLD_KEY]  # newest first: a new key was added
    result = runner.invoke(args=["keys", "reencrypt"])
    assert result.exit_code == 0 and "Re-encrypted 1 contact keys" in result.output
    db.session.expire_all()
    assert db.session.get(ContactKey, person.id).wrapped_key != wrapped_before

    app.config["MAILER_DATA_KEYS"] = [NEW_KEY]  # the old key is retired
    assert field_service.read_value(person, fields["national_id"]) == "DE-4417-2290-1133"
    app.config["MAILER_DATA_KEYS"] = [OLD_KEY]  # and the old key alone no longer opens anything
    with pytest.raises(PrivacyError, match="cannot be unwrapped"):
        field_service.read_value(person, fields["national_id"])
