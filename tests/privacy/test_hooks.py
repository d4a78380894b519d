"""Erasure and retention call every domain's registered hook, including one registered after app creation."""

from sqlalchemy import select

from mailer import audit
from mailer.audit.models import AuditEvent
from mailer.consent.ledger import RequestContext
from mailer.contacts.models.contact import Contact
from mailer.contacts.personal_data import ErasedContact
from mailer.core.extensions import db
from mailer.privacy.erasure import erase_contact
from mailer.privacy.hooks import RetentionOutcome, hooks_of
from mailer.privacy.settings import retention_days
from tests.support.campaigns import newsletter


def test_a_newly_registered_erasure_hook_runs_with_the_person_as_they_were(app, app_ctx):
    _, (person, other) = newsletter(2)

    def forget_probe(erased: ErasedContact) -> None:
        audit.record(
            "probe.forget",
            "contact",
            erased.contact.public_id,
            {"status": erased.contact.status, "scrubbed": erased.scrub(f"Note about {erased.email}")},
        )

    hooks_of(app).on_erasure("probe", forget_probe)
    erase_contact(person, RequestContext("test"))
    db.session.commit()

    [row] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "probe.forget")).scalars()
    # The hook ran inside the erasure, after the row was blanked, and still knew what identified the person.
    assert row.target_id == person.public_id
    assert row.details == {"status": "erased", "scrubbed": "Note about [erased]"}
    assert db.session.get(Contact, person.id).email is None
    assert db.session.get(Contact, other.id).status == "active"  # nobody else is touched


def test_a_newly_registered_retention_hook_runs_with_the_category_lifetime(app, app_ctx, runner):
    newsletter(1)
    calls = []

    def purge_probe(days: int, dry_run: bool) -> RetentionOutcome:
        calls.append((days, dry_run))
        return RetentionOutcome(7, "seven probe records")

    hooks_of(app).on_retention("tracking_events", purge_probe)
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    days = retention_days("tracking_events")
    assert f"would remove      7 tracking_events: open/click records older than {days} days" in dry.output
    assert "(seven probe records)" in dry.output
    real = runner.invoke(args=["retention", "run"])
    assert real.exit_code == 0, real.output
    assert calls == [(days, True), (days, False)]
