"""dramatiq actors of the staff domain: ids in, one operation call."""

from mailer.core.broker import actor
from mailer.staff import notices


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_staff_invitation(invite_id: int) -> None:
    """Email a staff invitation with its single-use link to set a password."""
    notices.send_staff_invitation(invite_id)


@actor(queue_name="transactional", max_retries=8, min_backoff=5_000, max_backoff=600_000)
def send_staff_lockout_notice(user_id: int) -> None:
    """Tell a staff member their account was locked after repeated failed logins."""
    notices.send_staff_lockout_notice(user_id)
