"""Storage limitation: the retention run with its dry-run report, re-permission emails, and deadline
warnings."""

import io
import os
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mailer.audit.models import AuditEvent
from mailer.consent.ledger import RequestContext
from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.imports import ContactImport
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.delivery.models import Delivery, OutboxMessage
from mailer.privacy.models.requests import RepermissionEmail
from mailer.privacy.requests import open_request
from mailer.privacy.restriction import restrict
from mailer.privacy.settings import get_settings
from mailer.staff.accounts import create_staff
from mailer.subscriptions import imports
from mailer.subscriptions.models.lists import MailingList
from mailer.tracking.models import TrackingEvent
from tests.public.recipients import sent_campaign
from tests.support.campaigns import newsletter
from tests.support.http import login
from tests.support.privacy import links_in_mail

LONG_AGO = timedelta(days=400)


def _age(contact: Contact, by: timedelta = LONG_AGO) -> None:
    contact.created_at = utcnow() - by
    contact.last_activity_at = None


def test_inactive_contacts_are_asked_once_then_erased_after_the_grace_period(
    app, app_ctx, runner, client, worker
):
    _campaign, (quiet, answers, recent, frozen, asking) = newsletter(5)
    for person in (quiet, answers, frozen, asking):
        _age(person)
    restrict(frozen, RequestContext("test"))  # restricted data is kept stored, never deleted by retention
    open_request("access", "email", contact=asking)  # nor while the person has a request open
    db.session.commit()

    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would remove      2 repermission_emails" in dry.output
    assert "would remove      0 inactive_contacts" in dry.output
    assert db.session.execute(select(func.count()).select_from(RepermissionEmail)).scalar_one() == 0

    assert runner.invoke(args=["retention", "run"]).exit_code == 0
    worker.drain()
    for person in (quiet, answers):
        [keep] = links_in_mail(app, person.email, "/privacy/keep/")
    assert not links_in_mail(app, frozen.email, "/privacy/keep/") and not links_in_mail(
        app, recent.email, "/privacy/"
    )

    # One answers (a GET shows a button, the POST keeps them); the other stays silent past the grace period.
    assert "Yes, keep me subscribed" in client.get(keep).text
    assert db.session.get(Contact, answers.id).last_activity_at is None
    assert client.post(keep).status_code == 200
    db.session.expire_all()
    db.session.get(RepermissionEmail, quiet.id).sent_at = utcnow() - timedelta(days=31)
    db.session.commit()

    page_client = app.test_client()
    create_staff("dpo@example.com", "correct horse battery", "privacy")
    db.session.commit()
    login(page_client, "dpo@example.com", "correct horse battery")
    report = page_client.get("/admin/retention")
    assert (
        report.status_code == 200
        and quiet.public_id[:8] in report.text
        and answers.public_id[:8] not in report.text
    )

    assert runner.invoke(args=["retention", "run"]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(Contact, quiet.id).status == "erased"
    assert [db.session.get(Contact, c.id).status for c in (answers, recent, frozen, asking)] == [
        "active",
        "active",
        "restricted",
        "active",
    ]
    erased = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.contact_id == quiet.id, ConsentEvent.action == "erased")
    ).scalar_one()
    assert erased.details["reason"] == "no interaction for 365 days" and erased.source == "system:retention"
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "retention.run")).scalars().all()


def test_without_re_permission_inactive_contacts_are_erased_directly(app_ctx, runner):
    _, (quiet, recent) = newsletter(2)
    _age(quiet)
    get_settings().repermission_enabled = False
    db.session.commit()
    result = runner.invoke(args=["retention", "run"])
    assert "removed      1 inactive_contacts" in result.output
    db.session.expire_all()
    assert (db.session.get(Contact, quiet.id).status, db.session.get(Contact, recent.id).status) == (
        "erased",
        "active",
    )


def test_old_tracking_events_and_bounce_texts_go_statistics_stay(app_ctx, runner):
    campaign, (ann, bob) = newsletter(2)
    sent = sent_campaign(campaign.lists[0], [ann, bob])
    old, new = utcnow() - timedelta(days=400), utcnow() - timedelta(days=10)
    db.session.add_all(
        [
            TrackingEvent(campaign_id=sent.campaign.id, contact_id=ann.id, kind="open", created_at=old),
            TrackingEvent(campaign_id=sent.campaign.id, contact_id=bob.id, kind="open", created_at=new),
        ]
    )
    delivery = db.session.execute(
        select(Delivery).where(Delivery.contact_id == ann.id, Delivery.campaign_id == sent.campaign.id)
    ).scalar_one()
    delivery.status, delivery.reason, delivery.finished_at = "bounced", f"550 <{ann.email}> unknown", old
    db.session.commit()
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert (
        "would remove      1 tracking_events" in dry.output
        and "would remove      1 bounce_logs" in dry.output
    )
    runner.invoke(args=["retention", "run"])
    db.session.expire_all()
    assert [e.created_at for e in db.session.execute(select(TrackingEvent)).scalars()] == [new]
    delivery = db.session.get(Delivery, delivery.id)
    assert (delivery.status, delivery.reason) == ("bounced", "")


@pytest.mark.config(UNCONFIRMED_RETENTION_DAYS=30)
def test_unconfirmed_sign_ups_expire(app, app_ctx, runner, client, demo_form, worker):
    from tests.support.signup import sign_up

    sign_up(client, email="never@example.com")
    worker.drain()
    from mailer.subscriptions.models.lists import Subscription

    sub = db.session.execute(select(Subscription)).scalar_one()
    sub.requested_at = utcnow() - timedelta(days=31)
    db.session.commit()
    output = runner.invoke(args=["retention", "run"]).output
    assert "removed      1 unconfirmed_signups" in output
    db.session.expire_all()
    assert db.session.execute(select(Contact)).scalar_one().status == "erased"


def test_staff_are_warned_before_deadlines_once_a_day(app, app_ctx, worker):
    _, (person,) = newsletter(1)
    create_staff("dpo@example.com", "correct horse battery", "privacy")
    create_staff("boss@example.com", "correct horse battery", "owner")
    due_soon = open_request("erasure", "letter", contact=person, received_at=utcnow() - timedelta(days=27))
    open_request("access", "email", contact=person)  # due in a month: no warning yet
    db.session.commit()
    reminders = app.extensions["mailer.workers"].actors["privacy_deadline_reminders"]
    reminders.send()
    worker.drain()
    messages = (
        db.session.execute(select(OutboxMessage).where(OutboxMessage.category == "internal")).scalars().all()
    )
    assert [m.rcpt_to for m in messages] == ["dpo@example.com"]  # the privacy officer, not the owner
    assert f"/admin/privacy/{due_soon.public_id}" in "".join(
        links_in_mail(app, "dpo@example.com", "/admin/privacy")
    )
    reminders.send()
    worker.drain()
    assert (
        db.session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.category == "internal")
        ).scalar_one()
        == 1
    )


def test_import_files_go_after_their_lifetime_and_unmapped_uploads_are_cancelled(app_ctx, demo_form, runner):
    news = db.session.execute(select(MailingList)).scalar_one()

    def upload(data: bytes) -> ContactImport:
        job = imports.create_import(
            imports.ImportRequest(
                "people.csv", io.BytesIO(data), news, "has_consent", "Signed paper sheets from the 2026 fair"
            ),
            None,
        )
        db.session.commit()
        return job

    finished = upload(b"email,name\nann@example.com,Ann\nnot-an-address,Nobody\n")
    imports.confirm_mapping(finished, ["email", "name"], queue=False)
    db.session.commit()
    imports.run_import(finished.id)
    waiting = upload(b"email\nbob@example.com\n")
    recent = upload(b"email\ncat@example.com\n")
    assert not os.path.exists(imports.upload_path(finished))  # a processed upload goes at once
    files = [imports.report_path(finished), imports.upload_path(waiting)]
    assert all(os.path.exists(path) for path in files)
    db.session.expire_all()
    long_ago = utcnow() - timedelta(days=31)
    db.session.get(ContactImport, finished.id).finished_at = long_ago
    db.session.get(ContactImport, waiting.id).created_at = long_ago
    db.session.commit()

    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert "would remove      2 import_files" in dry.output
    assert all(os.path.exists(path) for path in files)
    runner.invoke(args=["retention", "run"])
    db.session.expire_all()
    assert not any(os.path.exists(path) for path in files)
    assert os.path.exists(imports.upload_path(recent))  # an upload of today waits for its mapping
    assert db.session.get(ContactImport, finished.id).added == 1  # the record of what happened stays
    cancelled = db.session.get(ContactImport, waiting.id)
    assert cancelled.status == "failed" and "not mapped within 30 days" in cancelled.error
