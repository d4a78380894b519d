"""Demo data for a newcomer: one list and a form with slug `demo` (idempotent)."""
from sqlalchemy import select

from mailer.extensions import db
from mailer.models import Form, MailingList
from mailer.services.forms import FormSettings, save_form
from mailer.services.lists import create_list, ensure_tracking_purposes

DEMO_LIST = "Demo newsletter"


def seed_demo() -> Form:
    """Create the demo list and form unless they exist; returns the demo form."""
    tracking = ensure_tracking_purposes()
    form = db.session.execute(select(Form).where(Form.slug == "demo")).scalar_one_or_none()
    if form is not None:
        db.session.commit()
        return form
    mailing_list = db.session.execute(select(MailingList).where(MailingList.name == DEMO_LIST)).scalar_one_or_none()
    if mailing_list is None:
        mailing_list = create_list(DEMO_LIST, "A monthly round-up of product news. Try signing up!", "public")
    form = save_form(FormSettings(
        slug="demo", name="Demo form", title="Subscribe to the demo newsletter",
        intro="One email a month with product news. Unsubscribe at any time.",
        list_ids=[mailing_list.id], purpose_ids=[p.id for p in tracking],
    ))
    db.session.commit()
    return form
