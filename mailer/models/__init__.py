"""SQLAlchemy models, one module per aggregate."""
from mailer.models.api_key import ApiKey
from mailer.models.audit import AuditEvent
from mailer.models.bounce import BounceEvent
from mailer.models.campaign import Campaign, Delivery, Layout, Link, SendWorker
from mailer.models.consent import ConsentEvent, ConsentState, LedgerHead, Notice, Purpose
from mailer.models.contact import Contact
from mailer.models.contact_import import ContactImport
from mailer.models.form import Form
from mailer.models.mailing_list import MailingList, Subscription
from mailer.models.outbox import OutboxMessage
from mailer.models.staff import StaffInvite, StaffUser
from mailer.models.staff_security import StaffPasskey, StaffRecoveryCode, StaffSession
from mailer.models.suppression import Suppression
from mailer.models.fields import ContactField, ContactFieldValue, ContactKey
from mailer.models.privacy import PrivacyRequest, RepermissionEmail
from mailer.models.settings import DataRecipient, PrivacySettings
from mailer.models.tracking import TrackingCounter, TrackingEvent

__all__ = [
    "ApiKey", "BounceEvent", "AuditEvent", "Campaign", "Delivery", "Layout", "Link", "SendWorker", "ConsentEvent", "ConsentState", "Contact", "ContactImport", "Form", "LedgerHead", "MailingList", "Notice",
    "OutboxMessage", "Purpose", "StaffInvite", "StaffUser", "StaffPasskey", "StaffRecoveryCode", "StaffSession",
    "Subscription", "Suppression",
    "ContactField", "ContactFieldValue", "ContactKey", "PrivacyRequest", "RepermissionEmail", "DataRecipient",
    "PrivacySettings",
    "TrackingCounter", "TrackingEvent",
]
