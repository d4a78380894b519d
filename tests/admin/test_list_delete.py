"""Deleting a list: a page says what happens to its subscribers, forms and campaigns; the list's name must be
typed; every open subscription ends with a "withdrawn" ledger event (reason list-deleted) while the contacts
stay; the list leaves everything but stays as a tombstone for campaign history. Owners and admins; audited."""

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.consent.models import ConsentEvent
from mailer.consent.verify import verify_chain
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.demo import seed_demo
from mailer.subscriptions.models.lists import MailingList, Subscription
from tests.public.recipients import news_list, preferences_path, sent_campaign, subscribed_contact
from tests.support.html_forms import submit_form
from tests.support.http import csrf_token, staff_client
from tests.support.signup import contact_by_email, page, sign_up


def _statuses(mailing_list: MailingList) -> dict[str, str]:
    rows = db.session.execute(
        select(Contact.email, Subscription.status)
        .join(Subscription, Subscription.contact_id == Contact.id)
        .where(Subscription.list_id == mailing_list.id)
    )
    return dict(rows.all())


def test_deleting_a_list_ends_its_subscriptions_in_the_ledger_and_keeps_contacts_and_history(
    app, auth, demo_form
):
    demo, offers = demo_form.lists[0], news_list("Offers")
    ann = subscribed_contact("ann@example.com", [demo, offers], name="Ann")
    assert sign_up(auth, "bob@example.com").status_code == 200  # pending on the demo list
    campaign = sent_campaign(demo, [ann]).campaign
    demo_id, demo_public_id, campaign_id = demo.id, demo.public_id, campaign.public_id
    url = f"/admin/lists/{demo_public_id}/delete"

    shown = auth.get(url)
    text = page(shown)
    assert shown.status_code == 200
    assert "1 confirmed subscriber and 1 waiting to confirm will have their subscription ended" in text
    assert "“withdrawn”, reason: list deleted" in text
    assert f"{demo_form.name} offers no other list and will stop taking sign-ups" in text
    assert "1 campaign sent to or excluded it" in text

    wrong = submit_form(auth, url, shown.text, confirm_name="Demo")
    assert wrong.status_code == 400
    assert "Type the list's name, “Demo newsletter”, to delete it." in page(wrong)
    db.session.expire_all()
    assert _statuses(demo) == {"ann@example.com": "confirmed", "bob@example.com": "pending"}

    done = submit_form(auth, url, shown.text, confirm_name=" Demo   newsletter ")
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/lists")
    listing = page(auth.get(done.headers["Location"]))
    assert "List “Demo newsletter” deleted" in listing and "Demo newsletter</a>" not in listing

    db.session.expire_all()
    demo = db.session.get(MailingList, demo_id)
    assert demo.deleted_at is not None
    assert _statuses(demo) == {"ann@example.com": "unsubscribed", "bob@example.com": "unsubscribed"}
    assert _statuses(offers) == {"ann@example.com": "confirmed"}  # her other list is untouched
    events = db.session.execute(
        select(ConsentEvent).where(
            ConsentEvent.purpose_id == demo.purpose.id, ConsentEvent.action == "withdrawn"
        )
    ).scalars()
    withdrawn = {event.contact_id: event for event in events}
    assert set(withdrawn) == {ann.id, contact_by_email("bob@example.com").id}
    assert all(e.details == {"reason": "list-deleted", "list": demo_public_id} for e in withdrawn.values())
    assert all(e.source.startswith("admin:staff-") for e in withdrawn.values())
    assert verify_chain().ok  # chained like every other event
    assert contact_by_email("bob@example.com") is not None and db.session.get(Contact, ann.id) is not None
    [audited] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "list.deleted")).scalars()
    assert audited.target_id == demo_public_id and audited.actor_id is not None
    assert audited.details["confirmed"] == 1 and audited.details["pending"] == 1
    assert audited.details["forms_closed"] == [demo_form.public_id]

    preferences = page(auth.get(preferences_path(app, ann)))
    assert "“Demo newsletter”" not in preferences and "“Offers”" in preferences
    assert auth.get("/f/demo").status_code == 410
    assert "Demo newsletter" not in page(auth.get("/admin/campaigns/new"))
    # The tombstone: campaign history still names the list, its page says it was deleted; nothing offers it.
    assert "Demo newsletter" in page(auth.get(f"/admin/campaigns/{campaign_id}"))
    tombstone = page(auth.get(f"/admin/lists/{demo_public_id}"))
    assert "Deleted on" in tombstone and "/delete" not in tombstone and "/archive" not in tombstone
    assert auth.get(f"/admin/lists/{demo_public_id}/stats").status_code == 200
    for gone in ("delete", "archive", "unarchive", "edit"):
        assert auth.get(f"/admin/lists/{demo_public_id}/{gone}").status_code == 404


def test_the_demo_list_can_go_and_does_not_come_back(app, auth, demo_form):
    demo = demo_form.lists[0]
    url = f"/admin/lists/{demo.public_id}/delete"
    assert submit_form(auth, url, auth.get(url).text, confirm_name=demo.name).status_code == 302
    seed_demo()  # what every start with SEED_DEMO does
    db.session.expire_all()
    names = db.session.execute(select(MailingList.name).where(MailingList.deleted_at.is_(None))).scalars()
    assert list(names) == []


def test_only_owners_and_admins_delete_and_only_with_the_form_token(app):
    with app.app_context():
        public_id = seed_demo().lists[0].public_id
    url = f"/admin/lists/{public_id}/delete"
    marketer = staff_client(app, "marketer")
    assert marketer.get(url).status_code == 403
    token = csrf_token(marketer.get("/admin/lists").text)
    tried = marketer.post(url, data={"csrf_token": token, "confirm_name": "Demo newsletter"})
    assert tried.status_code == 403
    assert "/delete" not in marketer.get(f"/admin/lists/{public_id}").text
    admin = staff_client(app, "admin")
    assert admin.post(url, data={"confirm_name": "Demo newsletter"}).status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.execute(select(MailingList.deleted_at)).scalar_one() is None
    token = csrf_token(admin.get(url).text)
    assert admin.post(url, data={"csrf_token": token, "confirm_name": "Demo newsletter"}).status_code == 302
    with app.app_context():
        assert db.session.execute(select(MailingList.deleted_at)).scalar_one() is not None


@pytest.mark.parametrize("hostile", ["nope", "%27%20OR%201%3D1", "x" * 500, "%00"])
def test_hostile_list_ids_are_not_found_for_deletion(app, auth, demo_form, hostile):
    assert auth.get(f"/admin/lists/{hostile}/delete").status_code == 404
