"""The append-only audit log of staff actions on personal data and settings (accountability, Art. 5(2)).

The lowest domain: every other package may record to it, and it depends only on core.
"""

from mailer.audit.models import ACTIONS, action_name
from mailer.audit.operations import record
from mailer.audit.queries import AuditFilter, events_for, export_csv, search

__all__ = ["ACTIONS", "AuditFilter", "action_name", "events_for", "export_csv", "record", "search"]
