"""Erasure (Art. 17), the hard way: after a person erases themself, a full dump of the database holds nothing
of them."""

import io

import pytest
from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.fields import ContactFieldValue, ContactKey
from mailer.contacts.models.suppression import Suppression
from mailer.contacts.operations import email_hash
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.privacy.models.requests import PrivacyRequest
from mailer.privacy.requests import open_request
from mailer.staff.accounts import create_staff
from mailer.subscriptions.imports import ImportRequest, confirm_mapping, create_import, run_import
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import Subscription
from mailer.tracking.models import TrackingEvent
from tests.public.recipients import sent_campaign
from tests.support.privacy import (
    ask_on_form,
    define_fields,
    fill_fields,
    full_dump,
    links_in_mail,
    preference_path,
    sign_up_and_confirm,
)

EMAIL = "zebedee.quixotic@example.org"
NAME = "Zebedee Quixotic"
SIGNUP_IP, CONFIRM_IP = "203.0.113.77", "198.51.100.23"
SIGNUP_UA = "Mozilla/5.0 (X11; Linux) ErasureProbe/9.1"
CONFIRM_UA = "Mozilla/5.0 (Android 14) ConfirmProbe/4.2"
VALUES = {
    "postcode": "EH99 1SP",
    "birth_date": "1987-06-05",
    "gender": "nonbinary",
    "company": "Quixotic Widgets GmbH",
    "health": "Coeliac disease",
    "national_id": "DE-4417-2290-1133",
}
# Everything that identifies the person and must be gone from every table afterwards.
# The form asks for a sensitive field too: what the person typed on the hosted page must go as well.
FORM_ANSWER = "Lupin allergy (Zq7 protocol)"
SECRETS = [
    EMAIL,
    "zebedee",
    "quixotic",
    SIGNUP_IP,
    CONFIRM_IP,
    "ErasureProbe",
    "ConfirmProbe",
    "EH99 1SP",
    "1987-06-05",
    "nonbinary",
    "Coeliac",
    "DE-4417-2290-1133",
    "4417-2290",
    "Widgets",
    "Lupin",
    "Zq7",
]
SENSITIVE = ("1987-06-05", "Coeliac", "DE-4417-2290-1133", "4417-2290", "Lupin", "Zq7")


def _aggregates(campaign_id: int, list_id: int) -> dict:
    db.session.expire_all()
    count = lambda q: db.session.execute(q).scalar_one()  # noqa: E731
    return {
        "deliveries": dict(
            db.session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.campaign_id == campaign_id)
                .group_by(Delivery.status)
            ).all()
        ),
        "opens": count(
            select(func.count()).select_from(TrackingEvent).where(TrackingEvent.campaign_id == campaign_id)
        ),
        "confirmed_on_list": count(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.list_id == list_id, Subscription.status == "confirmed")
        ),
        "active_contacts": count(select(func.count()).select_from(Contact).where(Contact.status == "active")),
        "ledger_events": count(select(func.count()).select_from(ConsentEvent)),
    }


def _person_with_a_history(app, client, worker):
    """Signed up and confirmed on the demo form (answering its sensitive question), with fields, a campaign,
    an open, a bounce text and a request."""
    fields = define_fields()
    diet = field_service.define_field("diet", "Dietary needs", "sensitive")
    ask_on_form(db.session.execute(select(Form).where(Form.slug == "demo")).scalar_one(), diet)
    contact = sign_up_and_confirm(
        app,
        client,
        worker,
        EMAIL,
        NAME,
        ip=SIGNUP_IP,
        user_agent=SIGNUP_UA,
        confirm_ip=CONFIRM_IP,
        confirm_user_agent=CONFIRM_UA,
        answers={"diet": FORM_ANSWER},
    )
    assert (
        field_service.read_value(contact, diet) == FORM_ANSWER
    )  # collected by the form, with explicit consent
    other = sign_up_and_confirm(
        app,
        client,
        worker,
        "other.person@example.net",
        "Other Person",
        ip="192.0.2.50",
        user_agent="OtherBrowser/1.0",
        confirm_ip="192.0.2.51",
        confirm_user_agent="Other/2",
    )
    fill_fields(contact, fields, VALUES)
    contact.attributes = {"postcode": "EH99 1SP", "city": "Quixotic-on-Sea"}
    mailing_list = contact.subscriptions[0].mailing_list
    sent = sent_campaign(mailing_list, [contact, other])
    delivery = db.session.execute(select(Delivery).where(Delivery.contact_id == contact.id)).scalar_one()
    delivery.status, delivery.reason = "bounced", f"550 5.1.1 <{EMAIL}>: mailbox full for {NAME}"
    db.session.add_all(
        [
            TrackingEvent(campaign_id=sent.campaign.id, contact_id=contact.id, kind="open"),
            TrackingEvent(campaign_id=sent.campaign.id, contact_id=other.id, kind="open"),
        ]
    )
    staff = create_staff("privacy@example.com", "correct horse battery", "privacy")
    field_service.reveal(contact, fields["health"], staff, "Checking Zebedee's dietary request for the event")
    old = open_request("access", "email", contact=contact, note=f"Letter from {NAME}, {EMAIL}")
    old.details = {"new_email": "zebedee.new@example.org"}
    db.session.commit()
    return contact, sent.campaign.id, mailing_list.id


def test_self_service_erasure_leaves_nothing_of_the_person_in_a_full_dump(
    app, client, runner, demo_form, worker
):
    contact, campaign_id, list_id = _person_with_a_history(app, client, worker)
    before = _aggregates(campaign_id, list_id)
    dump = full_dump(app).lower()
    assert all(secret.lower() in dump for secret in SECRETS if secret not in SENSITIVE), (
        "the probe values must be findable before erasure, or the test proves nothing"
    )
    # "4417-2290" rather than "4417": four digits alone turn up by chance in timestamps and random ids.
    assert "coeliac" not in dump and "4417-2290" not in dump and "lupin" not in dump, (
        "sensitive values must be encrypted at rest"
    )

    # The person asks from the preference centre, then confirms with the link sent to their address.
    page = client.get(preference_path(contact, "erasure"))
    assert page.status_code == 200 and "cannot be undone" in page.text
    done = client.post(preference_path(contact, "erasure"), data={"confirm": "yes"})
    assert done.status_code == 200 and "Check your inbox" in done.text
    worker.drain()
    [verify] = links_in_mail(app, EMAIL, "/privacy/verify/")
    assert "Erase my data now" in client.get(verify).text
    erased = client.post(verify, headers={"User-Agent": CONFIRM_UA}, environ_base={"REMOTE_ADDR": CONFIRM_IP})
    assert erased.status_code == 200 and "Your data has been erased" in erased.text

    dump = full_dump(app).lower()
    leaks = [secret for secret in SECRETS if secret.lower() in dump]
    assert not leaks, f"personal data survived erasure: {leaks}"

    # The ledger chain still proves itself; the erasure is one more event in it.
    result = runner.invoke(args=["consent", "verify"])
    assert result.exit_code == 0, result.output
    after = _aggregates(campaign_id, list_id)
    assert after["deliveries"] == before["deliveries"] and after["opens"] == before["opens"]
    assert after["confirmed_on_list"] == before["confirmed_on_list"] - 1
    assert after["active_contacts"] == before["active_contacts"] - 1
    assert after["ledger_events"] == before["ledger_events"] + 1

    shell = db.session.get(Contact, contact.id)
    assert (
        shell.status == "erased" and shell.email is None and shell.name is None and shell.email_hash is None
    )
    # Quasi-identifiers: postcode and birth date coarsened to region and decade, gender removed.
    assert shell.attributes == {"coarsened": {"postcode": "EH…", "birth_date": "1980s"}}
    assert db.session.get(ContactKey, contact.id) is None
    assert not db.session.execute(
        select(ContactFieldValue).where(ContactFieldValue.contact_id == contact.id)
    ).all()
    request = db.session.execute(select(PrivacyRequest).where(PrivacyRequest.type == "erasure")).scalar_one()
    assert request.status == "completed" and request.channel == "preference-centre"
    assert request.subject_hash == email_hash(EMAIL) and request.identity_verified_at is not None
    suppression = db.session.execute(
        select(Suppression).where(Suppression.email_hash == email_hash(EMAIL))
    ).scalar_one()
    assert suppression.reason == "erased"
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() >= 1


@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="10 per hour")
def test_an_erased_person_comes_back_only_through_a_fresh_double_opt_in(app, client, demo_form, worker):
    contact, _, list_id = _person_with_a_history(app, client, worker)
    from mailer.consent.ledger import RequestContext
    from mailer.privacy.erasure import erase_contact

    erase_contact(contact, RequestContext("test"))
    db.session.commit()

    # An import claiming prior consent does not re-add them.
    job = create_import(
        ImportRequest(
            filename="old.csv",
            source=io.BytesIO(f"email,name\n{EMAIL},{NAME}\n".encode()),
            mailing_list=db.session.get(type(contact.subscriptions[0].mailing_list), list_id),
            mode="has_consent",
            consent_statement="Trade fair 2023, signed card",
        ),
        staff_id=None,
    )
    confirm_mapping(job, ["email", "name"], queue=False)
    db.session.commit()
    run_import(job.id)
    db.session.expire_all()
    assert db.session.execute(select(Contact).where(Contact.email == EMAIL)).scalar_one_or_none() is None

    # A form sign-up gives the usual answer but only a pending subscription; the suppression stays.
    from tests.support.http import form_timer

    list_box = db.session.get(type(contact.subscriptions[0].mailing_list), list_id).purpose.public_id
    client.post(
        "/f/demo",
        data={"email": EMAIL, "name": NAME, "ts": form_timer(client), "website": "", "consent": [list_box]},
    )
    worker.drain()
    db.session.expire_all()
    returning = db.session.execute(select(Contact).where(Contact.email == EMAIL)).scalar_one()
    assert returning.id != contact.id
    assert [s.status for s in returning.subscriptions] == ["pending"]
    assert db.session.execute(
        select(Suppression).where(Suppression.email_hash == email_hash(EMAIL))
    ).scalar_one()

    # Only their own confirmation brings them back (and lifts the suppression).
    links = links_in_mail(app, EMAIL, "/confirm/")
    client.post(links[-1])
    db.session.expire_all()
    assert [s.status for s in db.session.get(Contact, returning.id).subscriptions] == ["confirmed"]
    assert (
        db.session.execute(select(Suppression).where(Suppression.email_hash == email_hash(EMAIL))).first()
        is None
    )
    assert db.session.get(Contact, contact.id).status == "erased"
