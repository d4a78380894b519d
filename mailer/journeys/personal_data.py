"""What erasure does to journeys: the contact leaves every journey and no enrolment points at them."""

from mailer.contacts.personal_data import ErasedContact
from mailer.journeys.operations import forget_contact


def forget_enrolments(erased: ErasedContact) -> None:
    """Exit reason "erased" on every active enrolment; every enrolment loses its contact."""
    forget_contact(erased.contact.id)
