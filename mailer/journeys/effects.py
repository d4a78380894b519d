"""What tag and list steps change on a contact, by the same rules as a staff member's change, audited with the
actor `journey` (the audit row names the journey and step).

Adding to a list goes through the one subscribe() on the basis the marketer stated when saving the step:
consent obtained elsewhere (with the statement of where and how, stored as the proof) grants at once;
otherwise the person is sent a double opt-in email and stays pending until they confirm. A person who left
a list or everything themselves is never put back by a journey. Removing withdraws the list's consent like
a staff removal (one ledger event).
"""

from sqlalchemy import select

from mailer import audit
from mailer.consent.ledger import RequestContext
from mailer.contacts import tags as contact_tags
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.tags import Tag
from mailer.core.extensions import db
from mailer.journeys.models import Journey, JourneyStep, StepKind
from mailer.subscriptions.models.lists import MailingList
from mailer.subscriptions.operations import Basis, Door, Outcome, request_confirmation_email, subscribe
from mailer.subscriptions.withdrawal import withdraw_list

JOURNEY_ACTOR = "journey"  # who the audit log names for a journey's own changes


def _details(journey: Journey, step: JourneyStep) -> dict:
    return {"actor": JOURNEY_ACTOR, "journey": journey.public_id, "step": step.position + 1}


def change_tag(journey: Journey, step: JourneyStep, contact_id: int) -> None:
    """An add-tag or remove-tag step."""
    contact = db.session.get(Contact, contact_id)
    tag = db.session.get(Tag, step.settings.get("tag_id"))
    if contact is None or tag is None:
        return
    if step.kind == StepKind.ADD_TAG:
        contact_tags.add_tag(contact, tag.name, JOURNEY_ACTOR)
    else:
        contact_tags.remove_tag(contact, tag, JOURNEY_ACTOR)


def change_list(journey: Journey, step: JourneyStep, contact_id: int) -> tuple[str, bool]:
    """An add-to-list or remove-from-list step: (what happened in words for the timeline, whether a double
    opt-in email is owed once the pass commits)."""
    contact = db.session.get(Contact, contact_id)
    mailing_list = db.session.get(MailingList, step.settings.get("list_id"))
    if contact is None or mailing_list is None or mailing_list.purpose is None:
        return "the list is gone", False
    source = f"journey:{journey.public_id}"
    ctx = RequestContext(source)
    details = _details(journey, step)
    if step.kind == StepKind.REMOVE_LIST:
        changed = withdraw_list(
            contact,
            mailing_list,
            ctx,
            {**details, "list": mailing_list.public_id, "reason": "removed_by_journey"},
        )
        if changed:
            audit.record(
                "journey.list_remove",
                "contact",
                contact.public_id,
                {**details, "list": mailing_list.public_id},
            )
        return ("removed" if changed else "was not on it"), False
    basis = Basis(step.settings.get("basis", Basis.DOUBLE_OPT_IN))
    consent = {**details, "added_by": "journey"}
    if basis == Basis.PRIOR_CONSENT:
        consent["statement"] = step.settings.get("statement", "")
    result = subscribe(
        contact, [mailing_list.purpose], Door(ctx, source, basis, details=consent, by_person=False)
    )
    if result.purposes(Outcome.OPTED_OUT):
        return "left it themselves: not added", False
    if result.purposes(Outcome.GRANTED) or result.purposes(Outcome.REQUESTED):
        audit.record(
            "journey.list_add",
            "contact",
            contact.public_id,
            {**details, "list": mailing_list.public_id, "basis": basis.value},
        )
    if result.needs_confirmation:
        return "asked to confirm by email", True
    return "added", False


def send_confirmations(contact_ids: list[int]) -> None:
    """After the pass commits: the double opt-in emails its add-to-list steps owe (capped per address and
    domain like every confirmation email)."""
    for contact in db.session.execute(select(Contact).where(Contact.id.in_(contact_ids))).scalars():
        request_confirmation_email(contact)
