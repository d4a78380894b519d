"""dramatiq actors: ids in, one service call, nothing else (they re-read state from the database)."""
from mailer.sending.broker import actor
from mailer.services import retention, transactional


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_confirmation_email(contact_id: int) -> None:
    """Send the double opt-in confirmation email to one contact."""
    transactional.send_confirmation_email(contact_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def resend_confirmation(address_hash: str) -> None:
    """A public resend request, looked up here so the web answer's time says nothing about the address."""
    from mailer.services import signup

    signup.resend_for_hash(address_hash)


@actor(queue_name="maintenance", max_retries=3)
def purge_unconfirmed_signups() -> None:
    """Expire sign-ups that were never confirmed (scheduled)."""
    retention.purge_unconfirmed()


@actor(queue_name="imports", max_retries=3, time_limit=6 * 3600 * 1000)
def run_contact_import(import_id: int) -> None:
    """Process an uploaded CSV of contacts (claimed once; never run twice)."""
    from mailer.services import imports

    imports.run_import(import_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_preferences_link(contact_id: int) -> None:
    """Email a fresh preference-centre link that the person asked for."""
    from mailer.services import preferences

    preferences.send_link_email(contact_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def preferences_link_for_address(address_hash: str) -> None:
    """A public request for a preference link, looked up here so the web answer's time says nothing."""
    from mailer.services import preferences

    preferences.send_link_for_hash(address_hash)


@actor(queue_name="maintenance", max_retries=3)
def purge_tracking_events() -> None:
    """Delete tracking events older than TRACKING_RETENTION_DAYS (scheduled)."""
    from mailer.services import tracking

    tracking.purge_tracking_events()


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_privacy_verification(request_id: int) -> None:
    """Email the signed link that verifies a privacy request to the address on file."""
    from mailer.services.privacy import mail

    mail.send_verification(request_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_address_reconfirmation(request_id: int) -> None:
    """Ask a new address to confirm itself before a rectification starts using it."""
    from mailer.services.privacy import mail

    mail.send_address_reconfirmation(request_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_staff_invitation(invite_id: int) -> None:
    """Email a staff invitation with its single-use link to set a password."""
    from mailer.services.privacy import mail

    mail.send_staff_invitation(invite_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_staff_lockout_notice(user_id: int) -> None:
    """Tell a staff member their account was locked after repeated failed logins."""
    from mailer.services.privacy import mail

    mail.send_staff_lockout_notice(user_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_export_link(request_id: int) -> None:
    """Email a person the link to download their data."""
    from mailer.services.privacy import mail

    mail.send_export_link(request_id)


@actor(queue_name="maintenance", max_retries=3)
def send_repermission_email(contact_id: int) -> None:
    """Ask an inactive contact whether to keep them (retention)."""
    from mailer.services.privacy import mail

    mail.send_repermission(contact_id)


@actor(queue_name="maintenance", max_retries=3)
def privacy_deadline_reminders() -> None:
    """Warn privacy officers of requests due soon or overdue (scheduled)."""
    from mailer.services.privacy import mail

    mail.send_deadline_reminders()


@actor(queue_name="maintenance", max_retries=3, time_limit=6 * 3600 * 1000)
def run_retention() -> None:
    """Apply every retention lifetime (scheduled)."""
    from mailer.services.privacy import retention

    retention.run_retention()


# --- campaigns (issue 3) --------------------------------------------------------------------------------------

# Its own queue and a higher priority: planning must never wait behind the batches it has queued.
@actor(queue_name="campaign_planning", priority=0, max_retries=20, min_backoff=1_000, max_backoff=300_000,
       time_limit=3_600_000)
def plan_campaign(campaign_id: int) -> None:
    """Create the campaign's deliveries page by page and queue one batch message per page."""
    from mailer.sending import engine

    engine.plan_campaign(campaign_id)


@actor(queue_name="campaigns", priority=10, max_retries=20, min_backoff=1_000, max_backoff=300_000,
       time_limit=3_600_000)  # a lower priority than planning: a worker's free thread plans first
def send_batch(campaign_id: int, batch: int) -> None:
    """Send one batch of a campaign (claims its deliveries atomically, so a redelivery cannot send twice)."""
    from mailer.sending import engine

    engine.send_batch(campaign_id, batch)


@actor(queue_name="campaigns", max_retries=5)
def finish_campaign_if_done(campaign_id: int) -> None:
    """Mark a campaign sent when every delivery is final."""
    from mailer.sending import engine

    engine.finish_if_done(campaign_id)


@actor(queue_name="transactional", max_retries=3, min_backoff=5_000)
def send_campaign_test(campaign_id: int, addresses: list[str]) -> None:
    """Send a campaign's test messages."""
    from mailer.sending import engine

    engine.send_test_messages(campaign_id, addresses)


@actor(queue_name="maintenance", max_retries=3)
def start_due_campaigns() -> None:
    """Start scheduled campaigns whose time has come (scheduled every minute)."""
    from mailer.services import campaigns

    campaigns.start_due_campaigns()


# Scheduled every few seconds: a stale message (workers were down) is skipped, the next one is on its way.
@actor(queue_name="maintenance", max_retries=0, max_age=60_000)
def recover_stuck_deliveries() -> None:
    """Release a dead worker's deliveries (uncertain if they were at the relay); re-queue stalled campaigns."""
    from mailer.services import campaigns

    campaigns.recover_stuck(scheduled=True)


# --- operator alerts ------------------------------------------------------------------------------------------

# Retried for hours with growing gaps: the alert matters most while the relay is down.
@actor(queue_name="transactional", max_retries=24, min_backoff=5_000, max_backoff=900_000)
def send_campaign_alert(event_id: int, staff_id: int) -> None:
    """Email one recorded campaign alert to one owner or admin (never twice)."""
    from mailer.services import campaign_alerts

    campaign_alerts.email_alert(event_id, staff_id)


@actor(queue_name="maintenance", max_retries=0, max_age=120_000)
def alert_relay_waits() -> None:
    """Note when campaigns start and stop waiting for the relay; alert once per long wait (scheduled)."""
    from mailer.services import relay_wait_alerts

    relay_wait_alerts.check_relay_waits()
