"""Writing the append-only audit log of staff actions on personal data and settings (Art. 5(2))."""

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db


def record(
    action: str,
    target_type: str = "",
    target_id: str = "",
    details: dict | None = None,
    actor: object | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit row; the caller commits. Details name records by public id, never by address."""
    actor_id = (
        getattr(actor, "id", None) if actor is not None and getattr(actor, "is_authenticated", True) else None
    )
    event = AuditEvent(
        action=action[:60],
        target_type=target_type[:40],
        target_id=str(target_id or "")[:64],
        details=details or {},
        actor_id=actor_id,
        ip=(ip or None) and ip[:45],
    )
    db.session.add(event)
    return event
