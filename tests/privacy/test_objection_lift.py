"""An objection to direct marketing stays absolute until the person asks for marketing again, by a fresh
explicit action: a new double opt-in, the preference centre's button, or their instruction recorded by a
privacy officer."""

import re

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns.eligibility import exclusion_counts
from mailer.consent.ledger import RequestContext, consent_status
from mailer.consent.models import ConsentEvent
from mailer.core.extensions import db
from mailer.core.security import make_token
from mailer.privacy.models.requests import PrivacyRequest
from mailer.privacy.objection import DIRECT_MARKETING_KEY, has_objected_to_marketing
from mailer.privacy.restriction import restrict
from mailer.staff.accounts import create_staff
from mailer.subscriptions.models.lists import Subscription
from mailer.subscriptions.preferences import NOTICE_KEY
from tests.support.campaigns import make_campaign
from tests.support.http import csrf_token, form_timer, login
from tests.support.privacy import links_in_mail, preference_path, purpose, sign_up_and_confirm
from tests.support.signup import contact_by_email, page

EMAIL = "orla@example.com"
PASSWORD = "correct horse battery"


def _objector(app, client, worker, demo_form):
    """Signed up and confirmed on the demo form, then objected to direct marketing from the preference
    centre."""
    orla = sign_up_and_confirm(
        app,
        client,
        worker,
        EMAIL,
        "Orla",
        ip="192.0.2.1",
        user_agent="UA/1",
        confirm_ip="192.0.2.2",
        confirm_user_agent="UA/1",
        all_consents=False,
    )
    campaign = make_campaign(demo_form.lists)
    db.session.commit()
    assert exclusion_counts(campaign.id)["recipients"] == 1
    objected = client.post(preference_path(orla, "objection"), data={"purpose": DIRECT_MARKETING_KEY})
    assert objected.status_code == 200 and "objection is recorded" in objected.text
    db.session.expire_all()
    assert has_objected_to_marketing(orla) and exclusion_counts(campaign.id)["recipients"] == 0
    return orla, campaign


def preference_token(contact) -> str:
    return make_token("preferences", contact.public_id)


def _last_marketing_event(contact) -> ConsentEvent:
    dm = purpose(DIRECT_MARKETING_KEY)
    return db.session.execute(
        select(ConsentEvent)
        .where(ConsentEvent.contact_id == contact.id, ConsentEvent.purpose_id == dm.id)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    ).scalar_one()


@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="10 per hour")
def test_a_fresh_double_opt_in_lifts_the_objection_only_once_confirmed(app, client, demo_form, worker):
    orla, campaign = _objector(app, client, worker, demo_form)
    list_box = demo_form.lists[0].purpose.public_id
    response = client.post(
        "/f/demo", data={"email": EMAIL, "ts": form_timer(client), "website": "", "consent": [list_box]}
    )
    assert response.status_code == 200
    db.session.expire_all()
    # Anyone can type an address into a form: the objection holds until the confirmation link is used.
    assert has_objected_to_marketing(orla) and exclusion_counts(campaign.id)["recipients"] == 0

    worker.drain()
    client.post(links_in_mail(app, EMAIL, "/confirm/")[-1])
    db.session.expire_all()
    assert not has_objected_to_marketing(orla)
    assert exclusion_counts(campaign.id)["recipients"] == 1
    event = _last_marketing_event(orla)
    assert event.action == "granted" and event.details["lifts"] == "objection"
    assert event.details["way"] == "double-opt-in" and event.source == "public:confirm"


def test_the_preference_centre_button_lifts_it_and_nothing_else(app, client, demo_form, worker):
    orla, campaign = _objector(app, client, worker, demo_form)
    token = preference_token(orla)
    shown = page(client.get(f"/p/{token}"))
    assert "You objected to direct marketing" in shown and "I want your marketing emails again" in shown

    # Ticking a list again does not lift the objection by itself: nothing is sent.
    list_value = demo_form.lists[0].public_id
    client.post(f"/p/{token}", data={"choice": [list_value], "notice": "1", "name": "Orla"})
    db.session.expire_all()
    assert has_objected_to_marketing(orla)
    counts = exclusion_counts(campaign.id)
    assert counts["recipients"] == 0 and counts["excluded"]["objected"] == 1

    done = client.post(f"/p/{token}/marketing-again")
    assert done.status_code == 200
    assert "your objection to direct marketing is lifted" in page(done)
    assert "I want your marketing emails again" not in page(done)
    db.session.expire_all()
    assert not has_objected_to_marketing(orla) and exclusion_counts(campaign.id)["recipients"] == 1
    event = _last_marketing_event(orla)
    assert event.action == "granted" and event.details == {"lifts": "objection", "way": "preference-centre"}
    assert (
        event.notice is not None and event.notice.key == NOTICE_KEY
    )  # the wording version of the page shown

    # A second press changes nothing and writes nothing.
    before = db.session.execute(
        select(ConsentEvent.id).order_by(ConsentEvent.id.desc()).limit(1)
    ).scalar_one()
    assert client.post(f"/p/{token}/marketing-again").status_code == 200
    assert (
        db.session.execute(select(ConsentEvent.id).order_by(ConsentEvent.id.desc()).limit(1)).scalar_one()
        == before
    )


def test_ticking_direct_marketing_in_the_preference_centre_is_recorded_as_lifting_the_objection(
    app, client, demo_form, worker
):
    orla, _campaign = _objector(app, client, worker, demo_form)
    token = preference_token(orla)
    dm_box = purpose(DIRECT_MARKETING_KEY).public_id
    shown = client.get(f"/p/{token}").text
    assert f'value="{dm_box}"' in shown  # offered, unticked
    notice = re.search(r'name="notice" value="([^"]+)"', shown).group(1)
    saved = client.post(f"/p/{token}", data={"choice": [dm_box], "notice": notice, "name": "Orla"})
    assert saved.status_code == 200
    db.session.expire_all()
    assert not has_objected_to_marketing(orla)
    event = _last_marketing_event(orla)
    # The ledger says what happened: not a plain grant, the end of an objection, by the person, with the
    # page's wording.
    assert event.action == "granted" and event.details == {"lifts": "objection", "way": "preference-centre"}
    assert event.notice is not None and event.notice.key == NOTICE_KEY


def test_a_privacy_officer_records_a_lift_on_the_persons_instruction(app, client, demo_form, worker):
    orla, campaign = _objector(app, client, worker, demo_form)
    create_staff("dpo@example.com", PASSWORD, "privacy")
    db.session.commit()
    login(client, "dpo@example.com", PASSWORD)
    contact_page = client.get(f"/admin/contacts/{orla.public_id}")
    assert "The person asked for marketing again" in page(contact_page)
    url = f"/admin/privacy/contacts/{orla.public_id}/lift-objection"

    refused = client.post(
        url, data={"csrf_token": csrf_token(contact_page.text), "reason": "asked"}, follow_redirects=True
    )
    assert "Say how and when the person asked for marketing again" in page(refused)
    db.session.expire_all()
    assert has_objected_to_marketing(orla)
    assert (
        db.session.execute(
            select(PrivacyRequest).where(
                PrivacyRequest.type == "objection", PrivacyRequest.channel == "admin"
            )
        ).first()
        is None
    )

    reason = "Phone call on 3 May: Orla asked to get the newsletter again"
    done = client.post(
        url, data={"csrf_token": csrf_token(contact_page.text), "reason": reason}, follow_redirects=True
    )
    assert "Objection lifted" in page(done) and "The person asked for marketing again" not in page(done)
    db.session.expire_all()
    assert not has_objected_to_marketing(orla)
    event = _last_marketing_event(orla)
    assert event.details["way"] == "staff-on-instruction" and event.source.startswith("admin:staff-")
    audit = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "contact.objection_lift")
    ).scalar_one()
    assert audit.details["reason"] == reason and audit.target_id == orla.public_id
    request = db.session.execute(
        select(PrivacyRequest).where(PrivacyRequest.type == "objection", PrivacyRequest.channel == "admin")
    ).scalar_one()
    assert request.status == "completed" and request.details == {"action": "lift"}
    # The lists the objection ended stay ended: the person subscribes again themself.
    assert [
        s.status
        for s in db.session.execute(select(Subscription).where(Subscription.contact_id == orla.id)).scalars()
    ] == ["unsubscribed"]
    assert exclusion_counts(campaign.id)["recipients"] == 0

    again = client.post(
        url, data={"csrf_token": csrf_token(contact_page.text), "reason": reason}, follow_redirects=True
    )
    assert "has not objected to direct marketing" in page(again)


def test_a_restricted_contact_cannot_have_the_objection_lifted(app, client, demo_form, worker):
    orla, _ = _objector(app, client, worker, demo_form)
    restrict(orla, RequestContext("test"))
    db.session.commit()
    response = client.post(f"/p/{preference_token(orla)}/marketing-again")
    assert response.status_code == 403 and "lift the restriction first" in page(response)
    db.session.expire_all()
    assert consent_status(orla, purpose(DIRECT_MARKETING_KEY)) == "objected"
    assert contact_by_email(EMAIL).status == "restricted"
