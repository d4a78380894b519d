"""Each domain's erasure and retention hooks, registered on the app by the factory (no feature detection)."""

from flask import Flask

from mailer.consent.personal_data import forget_ledger_details
from mailer.contacts.personal_data import ErasedContact, forget_contact_data
from mailer.core.extensions import db
from mailer.deliverability.bounces import purge_bounce_log
from mailer.deliverability.personal_data import scrub_diagnostics
from mailer.delivery.personal_data import clear_failure_texts, forget_messages
from mailer.journeys.personal_data import forget_enrolments
from mailer.privacy.erasure import forget_requests
from mailer.privacy.hooks import RetentionOutcome, hooks_of
from mailer.privacy.models.settings import PrivacySettings
from mailer.staff.idempotency import forget_answers_mentioning
from mailer.subscriptions.expiry import purge_unconfirmed
from mailer.subscriptions.imports import purge_import_files
from mailer.subscriptions.personal_data import end_subscriptions
from mailer.tracking.events import LIFETIME_EXTENSION, purge_tracking_events
from mailer.transactional.operations import forget_old_addresses, forget_person


def _expire_unconfirmed(days: int, dry_run: bool) -> RetentionOutcome:
    counts = purge_unconfirmed(days=days, dry_run=dry_run)
    return RetentionOutcome(
        counts["subscriptions"], f"{counts['anonymised']} contacts left with nothing are anonymised"
    )


def _purge_tracking(days: int, dry_run: bool) -> RetentionOutcome:
    return RetentionOutcome(purge_tracking_events(dry_run=dry_run, days=days)["tracking_events"])


def _clear_failure_texts(days: int, dry_run: bool) -> RetentionOutcome:
    return RetentionOutcome(clear_failure_texts(days, dry_run=dry_run))


def _purge_bounce_log(days: int, dry_run: bool) -> RetentionOutcome:
    return RetentionOutcome(purge_bounce_log(dry_run=dry_run, days=days))


def _purge_import_files(days: int, dry_run: bool) -> RetentionOutcome:
    return RetentionOutcome(purge_import_files(days, dry_run=dry_run))


def _forget_transactional_addresses(days: int, dry_run: bool) -> RetentionOutcome:
    return RetentionOutcome(forget_old_addresses(days, dry_run=dry_run))


def _forget_idempotent_answers(erased: ErasedContact) -> None:
    forget_answers_mentioning(erased.contact.public_id, erased.email or "")


def configured_lifetime(category: str) -> int | None:
    """The lifetime staff set for a data category, if any (without creating the settings row)."""
    settings = db.session.get(PrivacySettings, 1)
    configured = (settings.retention or {}).get(category) if settings is not None else None
    return int(configured) if configured else None


def register_privacy_hooks(app: Flask) -> None:
    """Every domain's cleanup for erasure and retention, in the order they run."""
    hooks = hooks_of(app)
    hooks.on_erasure("consent", forget_ledger_details, tables=("consent_events", "consent_states"))
    hooks.on_erasure(
        "contacts", forget_contact_data, tables=("contact_field_values", "contact_keys", "contact_tags")
    )
    hooks.on_erasure("subscriptions", end_subscriptions, tables=("subscriptions", "list_reconfirmations"))
    hooks.on_erasure("delivery", forget_messages, tables=("deliveries",))
    hooks.on_erasure("deliverability", scrub_diagnostics, tables=("bounce_events",))
    hooks.on_erasure("journeys", forget_enrolments, tables=("journey_enrolments",))
    hooks.on_erasure("transactional", forget_person, tables=("tx_messages",))
    hooks.on_erasure("api_idempotency", _forget_idempotent_answers, tables=("api_idempotent_requests",))
    hooks.on_erasure("privacy", forget_requests)
    hooks.on_retention("unconfirmed_signups", _expire_unconfirmed)
    hooks.on_retention("tracking_events", _purge_tracking)
    hooks.on_retention("bounce_logs", _clear_failure_texts)
    hooks.on_retention("bounce_logs", _purge_bounce_log)
    hooks.on_retention("import_files", _purge_import_files)
    hooks.on_retention("transactional_messages", _forget_transactional_addresses)
    # Tracking's own scheduled purge follows the lifetime staff set in the privacy settings.
    app.extensions[LIFETIME_EXTENSION] = configured_lifetime
