"""Restriction (Art. 18) freezes a contact even with a send already queued; objection (Art. 21) per
purpose."""

import pytest
from sqlalchemy import select

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns import sending
from mailer.consent.ledger import RequestContext, consent_status
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.privacy.models.requests import PrivacyRequest
from mailer.privacy.objection import DIRECT_MARKETING_KEY, ensure_direct_marketing_purpose, object_to
from mailer.privacy.rectification import Correction, apply_changes, validate
from mailer.privacy.restriction import restrict
from mailer.staff.accounts import create_staff
from tests.support.campaigns import deliveries, newsletter
from tests.support.privacy import preference_path, purpose
from tests.support.workers import drain


def _queue(campaign):
    """Press Send and plan: the batch waits in the broker, no worker runs yet."""
    campaigns.start_campaign(campaign)
    db.session.commit()
    sending.plan_campaign(campaign.id)
    assert {d.status for d in deliveries(campaign)} == {"queued"}


def test_restriction_and_objection_stop_a_send_that_is_already_queued(
    app, app_ctx, runner, client, smtp_server
):
    campaign, (stays, frozen, objector) = newsletter(3)
    _queue(campaign)

    result = runner.invoke(args=["privacy", "restrict", frozen.email])
    assert result.exit_code == 0, result.output
    page = client.post(preference_path(objector, "objection"), data={"purpose": DIRECT_MARKETING_KEY})
    assert page.status_code == 200 and "objection is recorded" in page.text

    app.extensions["mailer.workers"].start_worker(2)
    drain(app)
    assert [m.rcpt_tos for m in smtp_server.messages] == [[stays.email]]
    outcome = {d.contact_id: d.status for d in deliveries(campaign)}
    assert outcome == {stays.id: "sent", frozen.id: "skipped", objector.id: "skipped"}
    assert {d.contact_id: d.reason for d in deliveries(campaign)}[frozen.id] == "restricted"

    # Both are in the register and the ledger.
    register = {(r.type, r.channel, r.status) for r in db.session.execute(select(PrivacyRequest)).scalars()}
    assert register == {("restriction", "cli", "completed"), ("objection", "preference-centre", "completed")}
    actions = [
        e.action
        for e in db.session.execute(
            select(ConsentEvent).where(ConsentEvent.contact_id == frozen.id).order_by(ConsentEvent.id)
        ).scalars()
    ]
    assert actions[-1] == "restricted"

    lifted = runner.invoke(args=["privacy", "unrestrict", frozen.email])
    assert lifted.exit_code == 0, lifted.output
    db.session.expire_all()
    assert db.session.get(Contact, frozen.id).status == "active"
    assert (
        db.session.execute(
            select(ConsentEvent.action)
            .where(ConsentEvent.contact_id == frozen.id)
            .order_by(ConsentEvent.id.desc())
            .limit(1)
        ).scalar_one()
        == "unrestricted"
    )
    again = runner.invoke(args=["privacy", "unrestrict", frozen.email])
    assert again.exit_code == 1 and "not restricted" in again.output


def test_a_restricted_contact_is_changed_only_by_a_privacy_officer(app_ctx):
    _, (person,) = newsletter(1)
    restrict(person, RequestContext("test"))
    admin = create_staff("admin@example.com", "correct horse battery", "admin")
    officer = create_staff("dpo@example.com", "correct horse battery", "privacy")
    changes = validate(person, Correction(name="Corrected Name"))
    with pytest.raises(PrivacyError, match="only a privacy officer"):
        apply_changes(person, changes, RequestContext("test"), actor=admin)
    with pytest.raises(PrivacyError, match="only a privacy officer"):
        apply_changes(person, changes, RequestContext("api"))  # the API and the person themself: refused too
    assert apply_changes(person, changes, RequestContext("test"), actor=officer) == ["name"]
    assert person.name == "Corrected Name"


def test_objection_to_direct_marketing_stops_every_list_and_tracking_for_good(app_ctx):
    _, (person,) = newsletter(1)
    opens = purpose("tracking:open")
    from mailer.consent.ledger import record_consent

    record_consent(person, opens, "granted", RequestContext("test"))
    dm = ensure_direct_marketing_purpose()
    stopped = object_to(person, [dm], RequestContext("preference-centre"))
    db.session.commit()
    assert stopped[0] == "Direct marketing" and "News" in stopped and "Open tracking" in stopped
    assert consent_status(person, dm) == "objected"
    assert consent_status(person, opens) == "withdrawn"
    assert [s.status for s in person.subscriptions] == ["unsubscribed"]
    # A second objection changes nothing and writes nothing.
    before = db.session.execute(select(ConsentEvent.id)).all()
    assert object_to(person, [dm], RequestContext("preference-centre")) == []
    assert db.session.execute(select(ConsentEvent.id)).all() == before


def test_objection_to_one_purpose_leaves_the_others(app_ctx):
    _, (person,) = newsletter(1)
    clicks = purpose("tracking:click")
    from mailer.consent.ledger import record_consent

    record_consent(person, clicks, "granted", RequestContext("test"))
    object_to(person, [clicks], RequestContext("preference-centre"))
    db.session.commit()
    assert consent_status(person, clicks) == "objected"
    assert [s.status for s in person.subscriptions] == ["confirmed"]
    assert consent_status(person, ensure_direct_marketing_purpose()) is None
